/**
 * The signed-in key lives in sessionStorage: it dies with the tab, it is never written to a cookie
 * (so no request carries it implicitly and no CSRF can use it) and never put in a URL.
 */
const storageKey = "quandex.apiKey";

export function storedKey(): string | null {
    return sessionStorage.getItem(storageKey);
}

export function storeKey(key: string): void {
    sessionStorage.setItem(storageKey, key);
}

export function forgetKey(): void {
    sessionStorage.removeItem(storageKey);
}
