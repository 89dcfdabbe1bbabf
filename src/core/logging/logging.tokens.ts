/** DI token of the application's root Logger. */
export const APP_LOGGER = Symbol('APP_LOGGER');
