// Waits until the server answers, so tests never race its start-up.
export default async function globalSetup(): Promise<void> {
  // The Lambda run (tests/lambda.spec.ts): scripts/test.sh waited for the API Gateway stand-in,
  // whose self-signed certificate Node's fetch would refuse.
  if (process.env.LAMBDA_BASE_URL) return;
  const base = process.env.BASE_URL ?? 'http://127.0.0.1:3000';
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const response = await fetch(`${base}/healthz`);
      if (response.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`server at ${base} did not come up within 120 s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
