// AES-256-GCM sealing of stored secrets: round trip, tamper detection, wrong key, purpose binding, rotation; the purposes themselves.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import * as purposes from '../../src/crypto/seal-purposes.js';
import { createSealer, keyIdOf } from '../../src/crypto/sealer.js';

const keyA = randomBytes(32);
const keyB = randomBytes(32);

t.test('a sealed value opens to the plaintext and does not contain it', async (t) => {
  const sealer = createSealer(keyA);
  const sealed = sealer.seal('glpat-secret-value', 'bot_token');
  t.notMatch(sealed, /glpat-secret-value/);
  t.equal(sealed.split('.')[1], keyIdOf(keyA), 'names the key that sealed it');
  t.equal(sealer.open(sealed, 'bot_token'), 'glpat-secret-value');
  t.not(sealer.seal('same', 'p'), sealer.seal('same', 'p'), 'a fresh IV every time');
});

t.test('a tampered value is refused', async (t) => {
  const sealer = createSealer(keyA);
  const parts = sealer.seal('secret', 'bot_token').split('.');
  const ciphertext = Buffer.from(parts[3], 'base64url');
  ciphertext[0] = ciphertext[0] ^ 1;
  parts[3] = ciphertext.toString('base64url');
  t.throws(() => sealer.open(parts.join('.'), 'bot_token'), /failed authentication/);
  t.throws(() => sealer.open('v1.garbage', 'bot_token'), /not a sealed value/);
});

t.test('a value sealed for one purpose does not open for another', async (t) => {
  const sealer = createSealer(keyA);
  t.throws(() => sealer.open(sealer.seal('secret', 'bot_token'), 'oauth_client_secret'), /failed authentication/);
});

t.test('a value sealed under another key is refused', async (t) => {
  const sealed = createSealer(keyA).seal('secret', 'p');
  t.throws(() => createSealer(keyB).open(sealed, 'p'), /unknown key/);
});

t.test('after rotation old values still open and new values use the new key', async (t) => {
  const oldSealed = createSealer(keyA).seal('old secret', 'p');
  const rotated = createSealer(keyB, [keyA]);
  t.equal(rotated.open(oldSealed, 'p'), 'old secret');
  const newSealed = rotated.seal('new secret', 'p');
  t.equal(newSealed.split('.')[1], keyIdOf(keyB));
  t.throws(() => createSealer(keyA).open(newSealed, 'p'), /unknown key/, 'the retired key alone cannot open new values');
});

t.test('the seal purposes keep the exact strings that stored data was sealed with, one per column', async (t) => {
  t.same(purposes, {
    SEAL_BOT_TOKEN: 'bot_token',
    SEAL_OAUTH_CLIENT_SECRET: 'oauth_client_secret',
    SEAL_USER_ACCESS_TOKEN: 'user_access_token',
    SEAL_USER_REFRESH_TOKEN: 'user_refresh_token',
    SEAL_PKCE_VERIFIER: 'pkce_verifier',
  });
});
