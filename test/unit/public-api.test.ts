/**
 * The library's public surface, as the TypeScript compiler sees src/index.ts: every exported
 * name, what it is, and each function's signature. A change here is a change for every
 * program that imports xenrel: update the snapshot on purpose (`vitest -u`), and say so in
 * the changelog.
 */
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const INDEX = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

function publicApi(): string[] {
  const program = ts.createProgram([INDEX], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(INDEX)!)!;
  return checker
    .getExportsOfModule(moduleSymbol)
    .map((exported) => {
      const s = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const name = exported.getName();
      if (s.flags & ts.SymbolFlags.Class) return `class ${name}`;
      if (s.flags & ts.SymbolFlags.Function || s.flags & ts.SymbolFlags.Variable) {
        const type = checker.getTypeOfSymbol(s);
        const sigs = type.getCallSignatures();
        if (sigs.length)
          return sigs
            .map(
              (sig) => `function ${name}${checker.signatureToString(sig, undefined, ts.TypeFormatFlags.NoTruncation)}`,
            )
            .join('\n');
        return `const ${name}: ${checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation)}`;
      }
      if (s.flags & ts.SymbolFlags.Interface) return `interface ${name}`;
      if (s.flags & ts.SymbolFlags.TypeAlias) return `type ${name}`;
      return `other ${name}`;
    })
    .sort();
}

describe('the public API', () => {
  const api = publicApi();

  it('exports every pipeline stage as a function', () => {
    for (const stage of [
      'readXenTree',
      'planBuild',
      'lockProject',
      'checkLock',
      'fetchAll',
      'vendor',
      'release',
      'verifyTarball',
      'verifyDir',
      'upstreamStatus',
      'bump',
      'diffReleases',
      'generateSbom',
      'exportMirror',
    ])
      expect(
        api.some((l) => l.startsWith(`function ${stage}(`)),
        stage,
      ).toBe(true);
  });

  it('is what the snapshot says', () => {
    expect(api.join('\n')).toMatchSnapshot();
  });
});
