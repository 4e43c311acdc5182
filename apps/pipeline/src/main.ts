import { pipelineConfigSchema, bootConfig } from '@lib/config';
import { PlatformModule, createHttpApp, listen, httpAppOptionsOf } from '@lib/platform';
import { Module } from '@nestjs/common';
import { PipelineModule } from './pipeline.module';

async function main(): Promise<void> {
  const config = bootConfig('pipeline', pipelineConfigSchema);
  @Module({ imports: [PlatformModule.forRoot(), PipelineModule.register(config)] })
  class PipelineAppModule {}

  const options = httpAppOptionsOf('pipeline', config);
  const app = await createHttpApp(PipelineAppModule, options);
  await listen(app, options);
}

void main();
