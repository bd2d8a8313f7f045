// kubectl's printers as the simulator has them: -o name, json, yaml, jsonpath and the one go-template mesh-run uses.
import { stringify } from 'yaml';
import { type KubeObject, nameOf, type ResourceType } from './objects.js';

// Evaluates the simple jsonpath forms kubectl users write: {.a.b[0].c}, {.metadata.labels}, and keys with
// escaped dots such as {.metadata.annotations.mesh-run\.io/ca-fingerprint}.
export function jsonpath(obj: unknown, template: string): string {
  // {range .items[*]}...{end}: the inner template once per item.
  const range = /^\{range \.([\w.]+)\[\*\]\}(.*)\{end\}$/s.exec(template);
  if (range) {
    const items = (range[1] as string).split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), obj);
    return Array.isArray(items) ? items.map((item) => jsonpath(item, range[2] as string)).join('') : '';
  }
  // {"text"}: a literal, with \n for a newline and \t for a tab.
  const newline = '\u{E000}';
  template = template.replace(/\{"((?:[^"\\]|\\.)*)"\}/g, (_, text: string) => text.replace(/\\n/g, newline).replace(/\\t/g, '\t'));
  return jsonpathFields(obj, template).replaceAll(newline, '\n');
}

function jsonpathFields(obj: unknown, template: string): string {
  return template.replace(/\{((?:[^}\\]|\\.)*)\}/g, (_, expr: string) => {
    let value: unknown = obj;
    const path = expr.trim().replace(/^\./, '');
    const parts = path
      .split(/(?<!\\)\.(?![^[]*\])/)
      .filter(Boolean)
      .map((p) => p.replace(/\\\./g, '.'));
    for (const part of parts) {
      const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
      if (!m) return '';
      if (m[1]) value = (value as Record<string, unknown> | undefined)?.[m[1]];
      for (const idx of (m[2] as string).matchAll(/\[(\d+)\]/g)) value = (value as unknown[] | undefined)?.[Number(idx[1])];
    }
    if (value === undefined || value === null) return '';
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  });
}

// The one go-template form mesh-run uses, printing a map's keys and never its values:
// {{range $k, $v := .metadata.annotations}}{{$k}}{{"\n"}}{{end}}
function goTemplate(obj: unknown, template: string): string | undefined {
  const m = /^\{\{range \$(\w+), \$\w+ := \.([\w.]+)\}\}\{\{\$(\w+)\}\}\{\{"\\n"\}\}\{\{end\}\}$/.exec(template.trim());
  if (!m || m[1] !== m[3]) return undefined;
  const map = (m[2] as string).split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), obj);
  if (!map || typeof map !== 'object') return '';
  return Object.keys(map as object)
    .sort()
    .map((k) => `${k}\n`)
    .join('');
}

export function render(objs: KubeObject[], type: ResourceType, output: string | undefined, single: boolean): string {
  if (output === 'name') return objs.map((o) => `${nameOf(type, o.metadata.name)}\n`).join('');
  if (output === 'json' || output === 'yaml') {
    const doc = single ? objs[0] : { apiVersion: 'v1', kind: 'List', items: objs, metadata: { resourceVersion: '' } };
    // kubectl writes YAML from the object's JSON: its keys in order (mesh-run never asks for it; a person does).
    return output === 'json' ? `${JSON.stringify(doc, null, 4)}\n` : stringify(doc, { sortMapEntries: true });
  }
  if (output?.startsWith('jsonpath=')) {
    const template = output.slice('jsonpath='.length).replace(/^'(.*)'$/, '$1');
    return jsonpath(single ? objs[0] : { apiVersion: 'v1', kind: 'List', items: objs }, template);
  }
  if (output?.startsWith('go-template=')) {
    const rendered = goTemplate(single ? objs[0] : { items: objs }, output.slice('go-template='.length));
    if (rendered === undefined) throw new Error('the simulator renders only {{range $k, $v := .path}}{{$k}}{{"\\n"}}{{end}} go-templates');
    return rendered;
  }
  if (output !== undefined)
    throw new Error(`unable to match a printer suitable for the output format "${output}", allowed formats are: go-template,json,jsonpath,name,yaml`);
  if (objs.length === 0) return '';
  return `NAME\n${objs.map((o) => o.metadata.name).join('\n')}\n`;
}
