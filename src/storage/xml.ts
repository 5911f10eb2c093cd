/**
 * S3's XML: answers are built with a tiny escaping builder (they are flat and small); request documents
 * (DeleteObjects, CompleteMultipartUpload, lifecycle, tagging) are parsed with fast-xml-parser.
 */
import { XMLParser } from 'fast-xml-parser';
import { S3Error } from './errors.js';

const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;',
  );
}

/** A node of an answer: text, nested elements, or a list of repeated elements under one name. */
export type XmlValue = string | number | boolean | XmlObject | XmlObject[] | string[] | null | undefined;
export interface XmlObject {
  [name: string]: XmlValue;
}

function render(name: string, value: XmlValue): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map((v) => render(name, v)).join('');
  if (typeof value === 'object') return `<${name}>${renderChildren(value)}</${name}>`;
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

function renderChildren(obj: XmlObject): string {
  let out = '';
  for (const [k, v] of Object.entries(obj)) out += render(k, v);
  return out;
}

export function xmlDocument(root: string, body: XmlObject): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${NS}">${renderChildren(body)}</${root}>`;
}

export function errorDocument(code: string, message: string, extra: Record<string, string>): string {
  let out = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message>`;
  for (const [k, v] of Object.entries(extra)) out += `<${k}>${escapeXml(v)}</${k}>`;
  return `${out}</Error>`;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  // Go's encoder (rclone) writes quotes as &#34;: numeric character references must decode too.
  htmlEntities: true,
  isArray: (name) => ['Object', 'Part', 'Rule', 'Tag'].includes(name),
});

/** The document's root element, or MalformedXML naming the element expected. */
export function parseXmlBody(body: Buffer, root: string): Record<string, unknown> {
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new S3Error('MalformedXML', `The request body is not well-formed XML; send a <${root}> document.`);
  }
  const top = doc[root];
  if (top === '' || top === undefined) {
    if (top === '') return {};
    throw new S3Error('MalformedXML', `The request body has no <${root}> element.`);
  }
  if (typeof top !== 'object' || top === null) return {};
  return top as Record<string, unknown>;
}

/** A child element's text ('' when absent). */
export function text(node: unknown, name: string): string {
  if (!node || typeof node !== 'object') return '';
  const v = (node as Record<string, unknown>)[name];
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
}

/** Repeated child elements (always an array). */
export function list(node: unknown, name: string): unknown[] {
  if (!node || typeof node !== 'object') return [];
  const v = (node as Record<string, unknown>)[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** A document whose root holds only text (GetBucketLocation's LocationConstraint). */
export function xmlTextDocument(root: string, value: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${NS}">${escapeXml(value)}</${root}>`;
}
