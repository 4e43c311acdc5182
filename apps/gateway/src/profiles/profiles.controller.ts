import { ProfileStore, RawQuery, UserTag, parseProfileQuery } from '@lib/domain';
import { Body, Controller, Header, HttpCode, Param, Post, Query } from '@nestjs/common';
import { DependencyUnavailableError } from '../http/api-error';
import { DebugCompareService } from '../debug/debug-compare.service';

export interface ProfileAnswer {
  cookie: string;
  views: UserTag[];
  buys: UserTag[];
}

@Controller()
export class ProfilesController {
  constructor(
    private readonly store: ProfileStore,
    private readonly debug: DebugCompareService,
  ) {}

  /**
   * The cookie's tags with from <= time < to, newest first, at most `limit` (default 200) per
   * action, filtered by the range before the limit. In debug mode the body is the expected answer.
   *
   * The answer is JSON text put together from the store's JSON texts (ProfileStore.readJson): a
   * popular cookie's 400 tags are neither parsed nor serialised again. Only debug mode, which
   * compares values, reads them as objects.
   */
  @Post('user_profiles/:cookie')
  @HttpCode(200)
  @Header('content-type', 'application/json; charset=utf-8')
  async profile(@Param('cookie') cookie: string, @Query() query: RawQuery, @Body() expected: unknown): Promise<string> {
    const q = parseProfileQuery(cookie, query);
    const unavailable = (err: unknown): never => {
      throw new DependencyUnavailableError('profile store', err);
    };
    if (this.debug.enabled) {
      const profile = await this.store.read(q.cookie, q.range, q.limit).catch(unavailable);
      const answer: ProfileAnswer = { cookie: q.cookie, views: profile.views, buys: profile.buys };
      this.debug.compare('user_profiles', `/user_profiles/${cookie}`, expected, answer);
      return JSON.stringify(answer);
    }
    const json = await this.store.readJson(q.cookie, q.range, q.limit).catch(unavailable);
    return `{"cookie":${JSON.stringify(q.cookie)},"views":${json.views},"buys":${json.buys}}`;
  }
}
