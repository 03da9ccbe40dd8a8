/**
 * An independent check of a presigned S3 GET URL's SigV4 signature (AWS Signature Version 4, query
 * string form), written from the specification. s3rver checks a presigned URL's access key, form and
 * expiry but does not compute SigV4 signatures, so the tests compute them here.
 */
import { createHash, createHmac } from 'node:crypto';

const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/** True when the URL's X-Amz-Signature is the signature of its GET request with `secretAccessKey`. */
export function presignedSignatureIsValid(link: string | URL, secretAccessKey: string): boolean {
  const url = new URL(link);
  const q = url.searchParams;
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') throw new Error('not a SigV4 presigned URL');
  if (q.get('X-Amz-SignedHeaders') !== 'host') throw new Error(`signed headers ${q.get('X-Amz-SignedHeaders')}: only host is checked here`);
  const amzDate = q.get('X-Amz-Date')!;
  const [, date, region, service] = /^[^/]+\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(q.get('X-Amz-Credential')!) ?? [];
  const query = [...q.entries()]
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => [rfc3986(k), rfc3986(v)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalRequest = ['GET', url.pathname, query, `host:${url.host}`, '', 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), service), 'aws4_request');
  return hmac(key, stringToSign).toString('hex') === q.get('X-Amz-Signature');
}
