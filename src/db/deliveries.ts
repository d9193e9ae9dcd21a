/** A webhook delivery, by its X-GitHub-Delivery id (recorded by the upserts, see builds.ts). */
export interface Delivery {
  id: string;
  event: string;
  action: string | null;
}

