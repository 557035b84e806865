import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ServerCert {
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * Throwaway TLS material made at run time with the openssl CLI (no key is ever committed):
 * certificate authorities and server certificates signed by them, valid for one day, in a
 * private temporary directory removed by `remove()`.
 */
export class TestPki {
  public readonly dir = mkdtempSync(join(tmpdir(), 'rotor-pki-'));

  private openssl(...args: string[]): void {
    execFileSync('openssl', args, { stdio: 'pipe', cwd: this.dir });
  }

  /** A self-signed CA certificate with its own key. */
  public ca(name: string): TestCa {
    const keyFile = join(this.dir, `${name}.key`);
    const certFile = join(this.dir, `${name}.crt`);
    this.openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile);
    const ext = join(this.dir, `${name}.ext`);
    writeFileSync(
      ext,
      [
        '[req]',
        'distinguished_name = dn',
        'x509_extensions = v3_ca',
        'prompt = no',
        '[dn]',
        `CN = Rotor test CA ${name} ${randomBytes(4).toString('hex')}`,
        '[v3_ca]',
        'basicConstraints = critical, CA:TRUE',
        'keyUsage = critical, keyCertSign, cRLSign',
        'subjectKeyIdentifier = hash',
        '',
      ].join('\n'),
    );
    this.openssl('req', '-x509', '-new', '-key', keyFile, '-out', certFile, '-days', '1', '-sha256', '-config', ext);
    return { certFile, keyFile };
  }

  /** A server certificate for an IP address (subjectAltName IP:...), signed by `ca`. */
  public serverCert(ca: TestCa, name: string, ip = '127.0.0.1'): ServerCert {
    const keyFile = join(this.dir, `${name}.key`);
    const certFile = join(this.dir, `${name}.crt`);
    const csr = join(this.dir, `${name}.csr`);
    const ext = join(this.dir, `${name}.ext`);
    this.openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile);
    this.openssl('req', '-new', '-key', keyFile, '-out', csr, '-subj', `/CN=${ip}`);
    writeFileSync(
      ext,
      [
        'basicConstraints = critical, CA:FALSE',
        'keyUsage = critical, digitalSignature',
        'extendedKeyUsage = serverAuth',
        `subjectAltName = IP:${ip}`,
        'authorityKeyIdentifier = keyid',
        '',
      ].join('\n'),
    );
    this.openssl(
      'x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial',
      `0x${randomBytes(8).toString('hex')}`, '-out', certFile, '-days', '1', '-sha256', '-extfile', ext,
    );
    return { certFile, keyFile };
  }

  public remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
