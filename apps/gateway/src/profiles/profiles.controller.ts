import { ProfileStore, RawQuery, UserTag, parseProfileQuery } from '@lib/domain';
import { Body, Controller, HttpCode, Param, Post, Query } from '@nestjs/common';
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
   */
  @Post('user_profiles/:cookie')
  @HttpCode(200)
  async profile(
    @Param('cookie') cookie: string,
    @Query() query: RawQuery,
    @Body() expected: unknown,
  ): Promise<ProfileAnswer> {
    const q = parseProfileQuery(cookie, query);
    const profile = await this.store.read(q.cookie, q.range, q.limit).catch((err: unknown) => {
      throw new DependencyUnavailableError('profile store', err);
    });
    const answer: ProfileAnswer = { cookie: q.cookie, views: profile.views, buys: profile.buys };
    this.debug.compare('user_profiles', `/user_profiles/${cookie}`, expected, answer);
    return answer;
  }
}
