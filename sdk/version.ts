/**
 * The version of `@icode/sdk`, the package plugins build against (sdk/package.json says the same; a test
 * keeps the two in step). A plugin's `peerDependencies["@icode/sdk"]` range is checked against it.
 */
export const SDK_VERSION = '1.0.0';
