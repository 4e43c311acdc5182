/**
 * Architecture boundaries (see ../shared/STYLE.md): the domain is plain TypeScript, apps do not
 * reach into each other, libraries do not depend on apps. `npm run lint` fails on a violation.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-domain-to-infra-deps',
      comment: 'libs/domain holds pure rules and ports: no framework, client or driver imports.',
      severity: 'error',
      from: { path: '^libs/domain/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'no-domain-to-other-code',
      comment: 'libs/domain depends on nothing else in the repository.',
      severity: 'error',
      from: { path: '^libs/domain/' },
      to: { path: '^(apps|libs/(?!domain/)|test|bench|scripts)/' },
    },
    {
      name: 'no-app-to-app',
      comment:
        'An app never imports another app; shared code belongs in libs/. apps/embedded is the exception: it is the composition root that runs the four apps in one process.',
      severity: 'error',
      from: { path: '^apps/([^/]+)/', pathNot: '^apps/embedded/' },
      to: { path: '^apps/([^/]+)/', pathNot: '^apps/$1/' },
    },
    {
      name: 'no-lib-to-app',
      comment: 'Libraries serve apps, never the reverse.',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'apps-code-against-messaging-ports',
      comment:
        'Apps use the messaging ports and the module (libs/kafka-avro: index, messaging.ts); which transport runs them, kafkajs or the in-process log, is chosen by the module from TRANSPORT. Tests beside the code may reach the adapters.',
      severity: 'error',
      from: { path: '^apps/', pathNot: '\\.(int-)?spec\\.ts$' },
      to: { path: '^libs/kafka-avro/src/kafka/' },
    },
    {
      name: 'in-process-log-is-the-embedded-modes',
      comment:
        "The in-process log (libs/in-process-log) is the embedded mode's transport: only apps/embedded, tests (test/, specs, libs/kafka-avro's testing helpers) and benches import it. Apps on their own run on Kafka; libs/kafka-avro reaches it only through the transport factory it is given.",
      severity: 'error',
      from: {
        path: '^(apps|libs)/',
        pathNot: '^(apps/embedded/|libs/in-process-log/|libs/kafka-avro/src/testing/)|\\.(int-)?spec\\.ts$',
      },
      to: { path: '^libs/in-process-log/' },
    },
    {
      name: 'no-product-to-tests',
      comment: 'Product code does not import test, bench or script code.',
      severity: 'error',
      from: { path: '^(apps|libs)/', pathNot: '\\.(int-)?spec\\.ts$' },
      to: { path: '^(test|bench|scripts)/' },
    },
    {
      name: 'loadgen-is-independent',
      comment: "The loadgen's reference model checks the product; it must not share the product's code.",
      severity: 'error',
      from: { path: '^bench/loadgen/' },
      to: { path: '^(apps|libs)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^(apps|libs)/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^dist/|^node_modules/|^\\.cache/)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
