/**
 * A size for messages: megabytes (MiB, as the limits are set) rounded up to hundredths and without
 * trailing zeros, so that "16 MB" reads as set and a file one byte over 10 MB reads "10.01 MB", never
 * "10 MB exceeds the maximum of 10 MB".
 */
export function megabytes(bytes: number): string {
  const hundredths = Math.ceil((bytes / (1024 * 1024)) * 100 - 1e-9);
  return `${hundredths / 100} MB`;
}
