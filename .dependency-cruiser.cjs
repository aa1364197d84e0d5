/** Import rules of DESIGN.md section 3, checked by `npm run lint:imports`. */
module.exports = {
  forbidden: [
    {
      name: 'core-is-pure',
      comment: 'src/core imports only src/core: no Node built-ins, no packages, no other layer.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { pathNot: '^src/core/' },
    },
    {
      name: 'ports-are-interfaces',
      comment: 'src/ports holds interfaces only and depends on nothing but core.',
      severity: 'error',
      from: { path: '^src/ports/' },
      to: { pathNot: '^src/(ports|core)/' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles anywhere.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'one-owner-of-partition-data',
      comment: 'Only the replica object (src/node/replica/) and the node wiring (openNode.ts) touch the stores and engines; everything else goes through ports/replica.ts.',
      severity: 'error',
      from: { path: '^src/(node|api|client)/', pathNot: '^src/node/(replica/|openNode\\.ts$)' },
      to: { path: '^src/storage/(objectStore|hintStore|lmdbEngine|memoryEngine)\\.ts$' },
    },
    {
      name: 'src-not-from-tests',
      comment: 'Production code never imports tests or benchmarks.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
