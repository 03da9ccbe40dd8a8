/** Self-signed certificates made by the test itself (openssl, as an operator would), for 127.0.0.1. */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  /** The certificate itself (PEM): what a client trusts. */
  pem: string;
  /** SHA-256 fingerprint, as `tls.TLSSocket.getPeerCertificate().fingerprint256` gives it. */
  fingerprint256: string;
}

/** A fresh P-256 key and a certificate for IP 127.0.0.1 and localhost, valid for a day, in `dir`. */
export function makeCertificate(dir: string, name: string): TestCertificate {
  fs.mkdirSync(dir, { recursive: true });
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${name}`,
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const pem = fs.readFileSync(certFile, 'utf8');
  return { certFile, keyFile, pem, fingerprint256: new X509Certificate(pem).fingerprint256 };
}
