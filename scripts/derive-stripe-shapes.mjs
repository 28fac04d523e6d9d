// Derive response shapes from stripe-node's TypeScript declarations (called by derive-stripe-shapes.py).
//
//   node derive-stripe-shapes.mjs STRIPE_PACKAGE_DIR REQUEST.json > shapes.json
//
// REQUEST.json: {"operations": [["GET", "/v1/customers/{}"], ...], "events": ["customer.created", ...]}.
// stripe-node's declarations are generated from Stripe's OpenAPI spec, one class per resource
// (`CustomerResource.retrieve(...): Promise<Response<Customer>>`); its .js files say which HTTP
// method and path each class method calls (`this._makeRequest('GET', `/v1/customers/${...}`)`).
// The TypeScript checker resolves every name (imports, namespaces, inherited members), so the
// output is what the compiler itself sees: for each requested operation its result type, for each
// event type the type of `data.object`, and every object type reachable from those, field by field:
// required or optional (`?`), nullable (`| null`), enums (string literal unions; stripe-node's
// `OtherString` escape hatch is dropped), expandable (`string | Customer`), lists (`ApiList<T>`).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [pkgDir, requestPath] = process.argv.slice(2).map((p) => path.resolve(p));
const require = createRequire(path.join(pkgDir, '..', 'typescript', 'package.json'));
const ts = require('typescript');
const request = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
const resources = path.join(pkgDir, 'cjs', 'resources');

function walk(dir, ext) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'V2' ? [] : walk(p, ext);
    return e.name.endsWith(ext) ? [p] : [];
  });
}

// -- HTTP routes of every class method, from the .js files ----------------------------------------
const METHOD = /^ {4}(\w+)\([^)]*\) \{\s*\n\s*return this\._makeRequest\('(GET|POST|DELETE)', (['`])(.*?)\3/gm;
const routes = new Map(); // "GET /v1/customers/{}" -> [declaration file, className, methodName]
for (const file of walk(resources, '.js')) {
  const text = fs.readFileSync(file, 'utf8');
  const cls = /class (\w+) extends/.exec(text);
  if (!cls) continue;
  for (const m of text.matchAll(METHOD)) {
    const key = `${m[2]} ${m[4].replace(/\$\{[^}]*\}/g, '{}')}`;
    if (!routes.has(key)) routes.set(key, [file.replace(/\.js$/, '.d.ts'), cls[1], m[1]]);
  }
}

// -- the checker ------------------------------------------------------------------------------------
const files = walk(resources, '.d.ts');
const program = ts.createProgram(files, { strict: true, noEmit: true, skipLibCheck: true, types: [] });
const checker = program.getTypeChecker();
const classes = new Map();
for (const sf of program.getSourceFiles()) {
  if (!sf.fileName.startsWith(resources)) continue;
  ts.forEachChild(sf, (node) => {
    // Class names repeat across files (Checkout's and FinancialConnections' SessionResource).
    if (ts.isClassDeclaration(node) && node.name) classes.set(`${sf.fileName}:${node.name.text}`, node);
  });
}

const types = {}; // name -> {fields: {...}}
const queue = [];

function moduleOf(node) {
  const rel = path.relative(resources, node.getSourceFile().fileName);
  return rel.replace(/\.d\.ts$/, '');
}

function qualifiedName(decl) {
  const chain = [decl.name.text];
  for (let n = decl.parent; n; n = n.parent) {
    if (ts.isModuleDeclaration(n)) chain.unshift(n.name.text);
    if (ts.isModuleBlock(n)) continue;
  }
  return `${moduleOf(decl)}:${chain.join('.')}`;
}

function refFor(type) {
  const sym = type.getSymbol();
  const decl = sym && sym.declarations && sym.declarations.find((d) => ts.isInterfaceDeclaration(d) || ts.isClassDeclaration(d));
  if (!decl) return null;
  const name = qualifiedName(decl);
  if (!(name in types)) {
    types[name] = null; // reserved: filled when dequeued
    queue.push([name, type]);
  }
  return name;
}

function isOtherString(t) {
  // stripe-node's `OtherString = string & Record<never, never>`: "any other string", for enums
  // Stripe may extend. Dropped: the sandbox must only send values the declarations list.
  return (t.flags & ts.TypeFlags.Intersection) !== 0 && t.types.some((x) => x.flags & ts.TypeFlags.String);
}

let eventBaseType = null; // set below: what an `Event` (the union of every XxxEvent) is checked as

function conv(type) {
  const f = type.flags;
  // `Event` is the union of ~270 event interfaces, one per type: a list or retrieve of events is
  // checked as EventBase here, and each event's `data.object` by its type (`events` below).
  if (type.aliasSymbol && type.aliasSymbol.getName() === 'Event' && eventBaseType) return conv(eventBaseType);
  if (f & ts.TypeFlags.Union) {
    const members = type.types.filter((t) => !(t.flags & ts.TypeFlags.Undefined) && !isOtherString(t));
    const literals = members.filter((t) => t.flags & (ts.TypeFlags.StringLiteral | ts.TypeFlags.NumberLiteral));
    const bools = members.filter((t) => t.flags & ts.TypeFlags.BooleanLiteral);
    const rest = members.filter((t) => !literals.includes(t) && !bools.includes(t));
    const out = [];
    if (literals.length) out.push({ enum: literals.map((t) => t.value).sort() });
    if (bools.length === 2) out.push('boolean');
    else if (bools.length === 1) out.push({ enum: [checker.typeToString(bools[0]) === 'true'] });
    for (const t of rest) out.push(conv(t));
    const flat = [];
    for (const o of out) {
      if (o && typeof o === 'object' && o.union) flat.push(...o.union);
      else flat.push(o);
    }
    return flat.length === 1 ? flat[0] : { union: flat };
  }
  if (f & ts.TypeFlags.String) return 'string';
  if (f & ts.TypeFlags.Number) return 'number';
  if (f & ts.TypeFlags.Boolean) return 'boolean';
  if (f & ts.TypeFlags.Null) return 'null';
  if (f & (ts.TypeFlags.StringLiteral | ts.TypeFlags.NumberLiteral)) return { enum: [type.value] };
  if (f & ts.TypeFlags.BooleanLiteral) return { enum: [checker.typeToString(type) === 'true'] };
  if (f & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return 'any';
  if (isOtherString(type)) return 'string';
  if (f & ts.TypeFlags.Object) {
    if (checker.isArrayType(type)) return { array: conv(checker.getTypeArguments(type)[0]) };
    const sym = type.getSymbol();
    const name = sym ? sym.getName() : '';
    if (name === 'ApiList') return { list: conv(checker.getTypeArguments(type)[0]) };
    if (name === 'Decimal') return 'decimal'; // a decimal string on the wire
    const props = checker.getPropertiesOfType(type);
    const index = checker.getIndexInfoOfType(type, ts.IndexKind.String);
    if (!props.length && index) return { map: conv(index.type) };
    if (!props.length) return { map: 'any' }; // `{}` (an empty interface): any object
    const ref = refFor(type);
    if (ref) return { ref };
    return { object: fieldsOf(type) }; // an inline type literal
  }
  return 'any';
}

function fieldsOf(type) {
  const out = {};
  for (const prop of checker.getPropertiesOfType(type)) {
    const decl = prop.valueDeclaration || (prop.declarations || [])[0];
    if (!decl) continue;
    const type = checker.getTypeOfSymbolAtLocation(prop, decl);
    // `deleted?: void` on a live object: the key never appears (DeletedCustomer has `deleted: true`).
    const present = type.flags & ts.TypeFlags.Union ? type.types.filter((t) => !(t.flags & ts.TypeFlags.Undefined)) : [type];
    if (present.every((t) => t.flags & ts.TypeFlags.Void)) continue;
    const spec = { t: conv(type) };
    if (prop.flags & ts.SymbolFlags.Optional) spec.optional = true;
    out[prop.getName()] = spec;
  }
  return out;
}

function drain() {
  while (queue.length) {
    const [name, type] = queue.shift();
    types[name] = { fields: fieldsOf(type) };
  }
}

const eventsFile = program.getSourceFile(path.join(resources, 'Events.d.ts'));
eventBaseType = checker.getTypeAtLocation(
  eventsFile.statements.find((s) => ts.isInterfaceDeclaration(s) && s.name.text === 'EventBase'));

// -- operations -------------------------------------------------------------------------------------
function resultOf(file, cls, method) {
  const node = classes.get(`${file}:${cls}`);
  if (!node) return null;
  for (const member of node.members) {
    if (!ts.isMethodDeclaration(member) || member.name.getText() !== method) continue;
    const sig = checker.getSignatureFromDeclaration(member);
    const ret = checker.getReturnTypeOfSignature(sig);
    const retName = ret.getSymbol() ? ret.getSymbol().getName() : '';
    if (retName === 'ApiListPromise') return { kind: 'list', t: conv(checker.getTypeArguments(ret)[0]) };
    if (retName === 'ApiSearchResultPromise') return { kind: 'search', t: conv(checker.getTypeArguments(ret)[0]) };
    // Promise<Response<T>>, Response<T> = T & {lastResponse}
    const inner = checker.getTypeArguments(ret)[0];
    const t = inner.aliasSymbol && inner.aliasSymbol.getName() === 'Response' ? inner.aliasTypeArguments[0] : inner;
    return { kind: 'object', t: conv(t) };
  }
  return null;
}

const operations = {};
const unknown = [];
for (const [method, template] of request.operations) {
  const key = `${method} ${template}`;
  const route = routes.get(key);
  const result = route && resultOf(...route);
  if (!result) {
    unknown.push(key);
    continue;
  }
  operations[key] = { ...result, sdk: `${moduleOf(classes.get(`${route[0]}:${route[1]}`))}.${route[2]}` };
}

// -- events: Event.Type lists every type; each `XxxEvent` interface types `data.object` -------------
const eventObjects = {};
ts.forEachChild(eventsFile, (node) => {
  if (!ts.isInterfaceDeclaration(node) || !node.name.text.endsWith('Event')) return;
  const t = checker.getTypeAtLocation(node);
  const typeProp = checker.getPropertyOfType(t, 'type');
  const data = checker.getPropertyOfType(t, 'data');
  if (!typeProp || !data) return;
  const lit = checker.getTypeOfSymbolAtLocation(typeProp, node);
  if (!(lit.flags & ts.TypeFlags.StringLiteral)) return;
  const obj = checker.getPropertyOfType(checker.getTypeOfSymbolAtLocation(data, node), 'object');
  eventObjects[lit.value] = checker.getTypeOfSymbolAtLocation(obj, node);
});
const events = {};
for (const name of request.events) {
  if (eventObjects[name]) events[name] = conv(eventObjects[name]);
}
const eventBase = conv(eventBaseType);
drain();

process.stdout.write(JSON.stringify({
  stripe_node: JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version,
  api_version: /ApiVersion = "([^"]+)"/.exec(fs.readFileSync(path.join(pkgDir, 'cjs', 'apiVersion.d.ts'), 'utf8'))[1],
  event_types: Object.keys(eventObjects).sort(),
  event_base: eventBase,
  operations,
  unknown_operations: unknown,
  events,
  types,
}));
