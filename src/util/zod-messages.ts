/**
 * English messages for the schema library. The schemas use `zod/mini`: the classic `zod`
 * entry point is one 750 KB module that every command would parse and run before doing
 * anything, while mini's functions are dropped by the bundler when unused. Mini ships
 * without messages; every module that declares a schema imports this one, so errors read
 * the same as the classic API's whichever schema is loaded first.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());
