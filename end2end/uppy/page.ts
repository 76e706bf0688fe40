// The test page's script: Uppy from npm (`@uppy/core` + `@uppy/aws-s3` in Companion mode), as an
// existing front end would configure it, pointed at this server's Companion-compatible routes.
// Bundled by esbuild when the test runs (uppy.spec.ts); never served by the server itself.
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';

declare global {
  interface Window {
    uppyDone: Promise<unknown>;
    uppyEvents: string[];
    uppy: Uppy;
  }
}

const MiB = 1024 * 1024;
const uppy = new Uppy({ autoProceed: false });
uppy.use(AwsS3, {
  companionEndpoint: `${location.origin}/companion`,
  shouldUseMultipart: true,
  // S3's smallest part: a 12 MiB file goes in three parts.
  getChunkSize: () => 5 * MiB,
});
window.uppy = uppy;
window.uppyEvents = [];
uppy.on('upload-progress', (_file, progress) =>
  window.uppyEvents.push(`progress ${progress.bytesUploaded}/${progress.bytesTotal}`),
);
uppy.on('s3-multipart:part-uploaded', (_file, part) => window.uppyEvents.push(`part ${part.PartNumber}`));
uppy.on('upload-error', (_file, error) => window.uppyEvents.push(`error ${error.message}`));

let finished: (result: unknown) => void;
window.uppyDone = new Promise((resolve) => (finished = resolve));
uppy.on('complete', (result) =>
  finished({
    successful: (result.successful ?? []).map((file) => ({ name: file.name, response: file.response })),
    failed: (result.failed ?? []).map((file) => ({ name: file.name, error: String(file.error) })),
  }),
);

const input = document.querySelector<HTMLInputElement>('input[type=file]')!;
input.addEventListener('change', () => {
  for (const file of Array.from(input.files ?? [])) {
    uppy.addFile({ name: file.name, type: file.type, data: file, source: 'file input' });
  }
  void uppy.upload();
});
