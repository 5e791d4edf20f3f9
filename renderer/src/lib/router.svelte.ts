// Hash routes: #/datasets, #/experiments/4, #/runs?ids=1,2 ... (works under file://, app:// and http://).
export interface Route { path: string[]; query: URLSearchParams }

function parse(): Route {
  const h = window.location.hash.replace(/^#\/?/, '');
  const [p = '', q = ''] = h.split('?');
  return { path: p.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q) };
}

class Router {
  route = $state<Route>(parse());
  constructor() {
    window.addEventListener('hashchange', () => { this.route = parse(); });
  }
}

export const router = new Router();

export function href(path: string, query?: Record<string, string | number | undefined>): string {
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)])).toString() : '';
  return `#/${path}${q ? `?${q}` : ''}`;
}

export function go(path: string, query?: Record<string, string | number | undefined>) {
  window.location.hash = href(path, query).slice(1);
}
