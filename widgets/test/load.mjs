// Load a pure TypeScript module of src/ (no imports) for node --test: transpiled in memory to CommonJS.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ts = require('typescript');

/** The exports of `src/<name>.ts`. */
export function load(name) {
  const source = readFileSync(new URL(`../src/${name}.ts`, import.meta.url), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2018 }
  });
  const mod = { exports: {} };
  new Function('module', 'exports', 'require', outputText)(mod, mod.exports, name => {
    throw new Error(`src/${name}.ts must not import (${name})`);
  });
  return mod.exports;
}
