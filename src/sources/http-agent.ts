// Imported dynamically (undici costs start-up that a cached fetch never needs). A static
// re-export, because a dynamic import of a CommonJS package exposes only its default export
// once bundled.
export { Agent } from 'undici';
