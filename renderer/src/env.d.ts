// Vite turns a CSS import into a stylesheet of the bundle.
declare module '*.css';
