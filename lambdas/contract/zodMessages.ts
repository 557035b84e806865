/**
 * Rotor's schemas use zod/mini (lambdas/**): the same checks and issues as `zod`, built from
 * functions a bundler can leave out when unused, so a Lambda bundle carries the parts of zod it
 * uses (≈ 43 KiB) instead of all of them (≈ 95 KiB) and loads in half the time. Unlike `zod`,
 * zod/mini registers no messages: every module that defines a schema imports this one, which
 * gives zod's English messages ("Too small: expected string to have >=1 characters") to the
 * issues Rotor's errors quote. A locale the host process configured first (an app that imports
 * the constructs) is left alone, as `zod` itself does.
 */
import { config } from 'zod/mini';
// The locales' index, not the en module's own path: that path is ES modules only, and the
// library's CommonJS build (dist/index.cjs) requires this file. A bundler keeps `en` alone.
import { en } from 'zod/locales';

if (!config().localeError) config(en());
