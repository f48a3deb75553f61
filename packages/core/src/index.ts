export * from './names.js';
export * from './errors.js';
export * from './events.js';
export * from './localhost-lookup.js';
export * from './drivers/driver.js';
