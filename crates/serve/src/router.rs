//! Path-prefix routing: the longest matching route wins.

use manifold_config::Route;

/// Routes sorted longest first.
pub struct Router<T> {
    routes: Vec<(Route, T)>,
}

impl<T> Router<T> {
    pub fn new(mut routes: Vec<(Route, T)>) -> Router<T> {
        routes.sort_by_key(|(route, _)| std::cmp::Reverse(route.as_str().len()));
        Router { routes }
    }

    pub fn find(&self, path: &str) -> Option<&T> {
        self.routes
            .iter()
            .find(|(route, _)| route.matches(path))
            .map(|(_, t)| t)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Route, &T)> {
        self.routes.iter().map(|(r, t)| (r, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(s: &str) -> Route {
        Route::try_from(s.to_string()).unwrap()
    }

    #[test]
    fn longest_prefix_wins() {
        let r = Router::new(vec![
            (route("/"), "root"),
            (route("/api"), "api"),
            (route("/api/v2"), "v2"),
        ]);
        assert_eq!(r.find("/api/v2/x"), Some(&"v2"));
        assert_eq!(r.find("/api/v1"), Some(&"api"));
        assert_eq!(r.find("/apix"), Some(&"root"));
        let only_api = Router::new(vec![(route("/api"), "api")]);
        assert_eq!(only_api.find("/other"), None);
    }
}
