export * from './run.js';
export * from './docker.js';
export * from './cleanup.js';
export * from './ports.js';
export * from './process.js';
export * from './compose.js';
export * from './http.js';
export * from './kit.js';
