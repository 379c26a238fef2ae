// Starts GraphiQL on studio-bff's page (src/graphiql/page.html) with the settings the
// service wrote into it. Every request carries the Headers tab's headers: over HTTP as
// they are, and on the WebSocket of a subscription in its `connection_init` payload,
// where the service reads the token (src/ws.rs).
'use strict';
(function () {
  const settings = JSON.parse(document.getElementById('graphiql-settings').textContent);
  const url = new URL(settings.endpoint, window.location.href).href;
  const socket = new URL(settings.subscriptionEndpoint, window.location.href);
  socket.protocol = socket.protocol === 'https:' ? 'wss:' : 'ws:';

  // GraphiQL hands the fetcher the Headers tab's JSON with each request. The toolkit
  // sends those headers with each HTTP request and makes them the payload of each new
  // WebSocket's `connection_init`, after `wsConnectionParams`. The service reads
  // `authorization` (or `Authorization`) there; HTTP headers are case-insensitive, so
  // whatever case was typed, the value is passed on as `authorization` too.
  function authorization(headers) {
    const found = Object.entries(headers || {}).find(([name]) => name.toLowerCase() === 'authorization');
    return found && typeof found[1] === 'string' ? found[1] : undefined;
  }

  function fetcher(params, options) {
    const token = authorization(options && options.headers);
    return GraphiQL.createFetcher({
      url,
      subscriptionUrl: socket.href,
      wsConnectionParams: token === undefined ? {} : { authorization: token },
    })(params, options);
  }

  const props = {
    fetcher,
    defaultQuery: settings.defaultQuery,
    // Headers are never stored in the browser: a token from an earlier run of the
    // service would outlive it there.
    shouldPersistHeaders: false,
    defaultEditorToolsVisibility: 'headers',
  };
  if (settings.headers) {
    // The tab open at the start shows them, and so does every new tab.
    props.headers = settings.headers;
    props.defaultHeaders = settings.headers;
  }
  ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, props));
})();
