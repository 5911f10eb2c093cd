/** Writing answers: XML documents, S3 error documents, empty answers. */
import type { ServerResponse } from 'node:http';
import { S3Error } from './errors.js';
import { errorDocument, type XmlObject, xmlDocument } from './xml.js';

export function sendXml(res: ServerResponse, status: number, root: string, body: XmlObject): void {
  const doc = Buffer.from(xmlDocument(root, body));
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': doc.length });
  res.end(doc);
}

export function sendEmpty(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | number> = {},
): void {
  res.writeHead(status, { ...headers, 'content-length': 0 });
  res.end();
}

export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  return new S3Error('InternalError', 'We encountered an internal error. Please try again.');
}

export function sendError(res: ServerResponse, err: S3Error, resource: string, head: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const doc = Buffer.from(errorDocument(err.code, err.message, { ...err.extra, Resource: resource }));
  const headers: Record<string, string | number> = { 'content-type': 'application/xml' };
  if (err.code === 'InvalidRange' && err.extra.ActualObjectSize) {
    headers['content-range'] = `bytes */${err.extra.ActualObjectSize}`;
  }
  // HEAD answers carry no body: clients read the status (and x-amz-error-code, which some show).
  headers['x-amz-error-code'] = err.code;
  if (head) {
    res.writeHead(err.status, headers);
    res.end();
    return;
  }
  headers['content-length'] = doc.length;
  res.writeHead(err.status, headers);
  res.end(doc);
}

/** An HTTP date (Last-Modified) and S3's ISO form (listings) of an epoch-ms time. */
export const httpDate = (ms: number): string => new Date(ms).toUTCString();
export const isoDate = (ms: number): string => new Date(ms).toISOString();
