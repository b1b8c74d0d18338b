import { Command } from 'commander';
import { ConfigurationError } from '@restjwt/core';
import { dataDirectoryFor, loadSettingsInput, usesHmac, validateSettings } from '../config.js';
import { rotateGeneratedKey } from '../key-rotation.js';
import { databaseOption } from '../options.js';

interface RotateKeyOptions {
  database: string;
  config?: string;
}

/**
 * `restjwt rotatekey`: a new signing key for the generated-key set-up. The old key keeps verifying until the tokens
 * it signed have expired, so nobody is logged out. Restart `serve` to use the new key.
 */
export function rotateKeyCommand(): Command {
  return new Command('rotatekey')
    .description('replace the generated signing key; the old one keeps verifying until its tokens expire')
    .addOption(databaseOption())
    .option('--config <file>', 'settings JSON (for the algorithm and token lifetimes)')
    .action(async (options: RotateKeyOptions) => {
      const loaded = await loadSettingsInput(options.config);
      const { settings } = validateSettings(loaded);
      if (process.env.RESTJWT_SIGNING_KEY || settings.signingKey !== undefined || !usesHmac(settings)) {
        throw new ConfigurationError(
          'rotatekey rotates the key "restjwt serve" generated. Your signing key is configured (RESTJWT_SIGNING_KEY or ' +
            'signingKey): rotate it by setting the new key as signingKey and moving the old one to ' +
            'additionalVerifyingKeys [{"alg", "key", "kid"}] until its tokens have expired.',
        );
      }
      const keep = Math.max(settings.refreshTokenLifetime, settings.slidingTokenRefreshLifetime, settings.accessTokenLifetime);
      const dir = dataDirectoryFor(options.database);
      const { oldKid, newKid, dropped } = await rotateGeneratedKey(dir, settings.algorithm, keep);
      process.stdout.write(
        `New signing key ${newKid} in ${dir}. Key ${oldKid} now only verifies, for ${keep} s.` +
          (dropped > 0 ? ` Dropped ${dropped} expired retired key(s).` : '') +
          '\nRestart "restjwt serve" to sign with the new key; tokens signed with the old one stay valid.\n',
      );
    });
}
