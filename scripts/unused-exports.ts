/**
 * Lists exports that no module imports (run by `make lint`; exit 1 when there is one). An export
 * nobody imports is either dead code or a name that should stay private to its file. Uses the
 * TypeScript compiler the repo already has, so imports resolve exactly as `tsc` resolves them.
 * Counted as imported: named and default imports, `export { x } from`, and every name of a module
 * imported whole (`import * as`, `export * from`, `import()`).
 * Usage: node scripts/unused-exports.ts [--types]   (--types: list unused exported types too)
 */
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const withTypes = process.argv.includes('--types');

const config = ts.getParsedCommandLineOfConfigFile(
  resolve(ROOT, 'tsconfig.json'),
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  },
);
if (config === undefined) throw new Error('tsconfig.json: not readable');
const program = ts.createProgram(config.fileNames, config.options);
const checker = program.getTypeChecker();
const own = program.getSourceFiles().filter((f) => !f.isDeclarationFile && !f.fileName.includes('/node_modules/'));

/** file name -> names imported from it; '*' when the whole module is. */
const used = new Map<string, Set<string>>();
function use(from: ts.SourceFile, specifier: ts.Expression, name: string): void {
  if (!ts.isStringLiteral(specifier)) return;
  const resolved = ts.resolveModuleName(specifier.text, from.fileName, config!.options, ts.sys).resolvedModule;
  if (resolved === undefined) return;
  const names = used.get(resolved.resolvedFileName) ?? new Set<string>();
  names.add(name);
  used.set(resolved.resolvedFileName, names);
}

for (const file of own) {
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      if (clause === undefined) use(file, node.moduleSpecifier, '*side-effect');
      else {
        if (clause.name !== undefined) use(file, node.moduleSpecifier, 'default');
        const bindings = clause.namedBindings;
        if (bindings !== undefined && ts.isNamespaceImport(bindings)) use(file, node.moduleSpecifier, '*');
        else if (bindings !== undefined)
          for (const e of bindings.elements) use(file, node.moduleSpecifier, (e.propertyName ?? e.name).text);
      }
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined) {
      const clause = node.exportClause;
      if (clause === undefined || ts.isNamespaceExport(clause)) use(file, node.moduleSpecifier, '*');
      else for (const e of clause.elements) use(file, node.moduleSpecifier, (e.propertyName ?? e.name).text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined
    ) {
      use(file, node.arguments[0], '*');
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
}

const unused: string[] = [];
for (const file of own) {
  const symbol = checker.getSymbolAtLocation(file);
  if (symbol === undefined) continue;
  const names = used.get(file.fileName);
  if (names?.has('*')) continue;
  for (const exported of checker.getExportsOfModule(symbol)) {
    if (names?.has(exported.name)) continue;
    const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const isValue = (target.flags & ts.SymbolFlags.Value) !== 0;
    if (!isValue && !withTypes) continue;
    const declaration = exported.declarations?.[0];
    const line = declaration === undefined ? 0 : file.getLineAndCharacterOfPosition(declaration.getStart()).line + 1;
    unused.push(`${relative(ROOT, file.fileName)}:${line} ${exported.name}${isValue ? '' : ' (type)'}`);
  }
}

unused.sort();
for (const line of unused) console.log(line);
if (unused.length > 0) {
  console.error(
    `${unused.length} export(s) that no module imports: remove them, or drop \`export\` when only their own file uses them`,
  );
  process.exit(1);
}
