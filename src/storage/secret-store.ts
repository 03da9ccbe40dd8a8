/**
 * Secrets every node of one installation must share, such as the key that signs result links (a link
 * minted by one API node must verify on another). The embedded backend keeps them as files in the data
 * directory; a shared backend keeps them where every node reads them.
 */
export interface SecretStore {
  /**
   * The secret called `name`, created with `create()` on first use. When several nodes race to create
   * it, all of them end up with the one that was stored first.
   */
  getOrCreate(name: string, create: () => Buffer): Promise<Buffer>;
}
