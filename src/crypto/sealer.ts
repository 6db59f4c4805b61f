// AES-256-GCM sealing of every stored secret. A sealed value names the key that sealed it, so keys can
// be rotated: new values use the current key, old values still open under a retired key.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export interface Sealer {
  /** `purpose` is bound as associated data, so a value sealed for one column cannot be moved to another. */
  seal(plaintext: string, purpose: string): string;
  open(sealed: string, purpose: string): string;
}

class SealError extends Error {}

export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 8);
}

export function decodeKey(base64: string): Buffer {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32) throw new SealError('an encryption key must be 32 bytes');
  return key;
}

export function createSealer(currentKey: Buffer, retiredKeys: Buffer[] = []): Sealer {
  const keys = new Map([currentKey, ...retiredKeys].map((key) => [keyIdOf(key), key] as const));
  const keyId = keyIdOf(currentKey);
  return {
    seal(plaintext, purpose) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv).setAAD(Buffer.from(purpose));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, keyId, iv, ciphertext, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
    },
    open(sealed, purpose) {
      const [version, sealedKeyId, iv, ciphertext, tag] = sealed.split('.') as (string | undefined)[];
      if (version !== VERSION || !sealedKeyId || !iv || ciphertext === undefined || !tag) throw new SealError('not a sealed value');
      const key = keys.get(sealedKeyId);
      if (!key) throw new SealError(`sealed with unknown key ${sealedKeyId}`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url')).setAAD(Buffer.from(purpose));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        throw new SealError('sealed value failed authentication');
      }
    },
  };
}
