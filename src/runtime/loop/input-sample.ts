/**
 * The input sample moved to the core (src/core/frame/sample.ts, the same encoding); re-exported here only for
 * test/core/frame/sample.test.ts, which compares the two. Remove once that comparison goes.
 */
export {
  decodeInputSample,
  encodeInputSample,
  type InputSample,
  inputSampleSchema,
} from '../../core/frame/sample.ts';
