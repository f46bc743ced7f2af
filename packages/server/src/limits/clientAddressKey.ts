import { isIPv6 } from "node:net";

/**
 * The identity the auth-failure limiter counts by. IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what a
 * dual-stack socket reports) counts as the IPv4 address; other IPv6 addresses count by their /64,
 * because one host usually owns a whole /64 and could otherwise rotate addresses freely.
 */
export function clientAddressKey(address: string): string {
    // Plain IPv4, the common case, skips the IPv6 parsing (its regex runs on every authenticated request).
    if (!address.includes(":")) return address;
    const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
    if (mapped) return mapped[1] as string;
    if (!isIPv6(address)) return address;
    const groups = expandIPv6(address.split("%")[0] as string);
    return `${groups.slice(0, 4).join(":")}::/64`;
}

/** Eight 16-bit groups without leading zeros, so every spelling of an address maps to one key. */
function expandIPv6(address: string): string[] {
    const [head = "", tail] = address.split("::");
    const parse = (part: string): string[] => (part === "" ? [] : part.split(":"));
    const left = parse(head);
    const right = tail === undefined ? [] : parse(tail);
    const groups = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
    return groups.map((group) => (group.includes(".") ? group : parseInt(group, 16).toString(16)));
}
