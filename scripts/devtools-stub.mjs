// ink imports react-devtools-core only to connect when DEV=true; the bundled UI never does.
export default { initialize() {}, connectToDevTools() {} };
