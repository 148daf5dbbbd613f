//! Component command lines: kubeadm's default flags merged with the user's `extraArgs`.
//! Upstream's rule (since #135400, backported to v1.32+): a flag the user gives replaces every
//! default of that name (and may be repeated); the remaining defaults come first, sorted by
//! name, then value; the user's flags follow in the order written, because some flags mean
//! something by their order (the first `--service-account-issuer` is the one that signs).

use crate::config::v1beta4::Arg;

/// A flag with its value.
pub fn arg(name: &str, value: impl Into<String>) -> Arg {
    Arg {
        name: name.to_string(),
        value: value.into(),
    }
}

/// The value of the last occurrence of `name`, as upstream reads a flag that may repeat.
pub fn get<'a>(args: &'a [Arg], name: &str) -> Option<&'a str> {
    args.iter()
        .rev()
        .find(|a| a.name == name)
        .map(|a| a.value.as_str())
}

/// Sets `name` to `value`, replacing every earlier occurrence.
pub fn set(args: &mut Vec<Arg>, name: &str, value: impl Into<String>) {
    let value = value.into();
    match args.iter().position(|a| a.name == name) {
        Some(first) => {
            args[first].value = value;
            let mut i = 0;
            args.retain(|a| {
                let keep = a.name != name || i == first;
                i += 1;
                keep
            });
        }
        None => args.push(arg(name, value)),
    }
}

/// The command-line flags (`--name=value`) of `defaults` overridden by `overrides`: the
/// defaults not overridden, sorted, then every override in the user's order.
pub fn to_command(defaults: &[Arg], overrides: &[Arg]) -> Vec<String> {
    let mut kept: Vec<&Arg> = defaults
        .iter()
        .filter(|d| !overrides.iter().any(|o| o.name == d.name))
        .collect();
    kept.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.value.cmp(&b.value)));
    kept.into_iter()
        .chain(overrides)
        .map(|a| format!("--{}={}", a.name, a.value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_defaults_and_keep_their_order_after_the_sorted_defaults() {
        let defaults = vec![arg("b", "1"), arg("a", "x"), arg("c", "3"), arg("a", "w")];
        let overrides = vec![arg("c", "z"), arg("d", ""), arg("c", "y"), arg("a0", "q")];
        assert_eq!(
            to_command(&defaults, &overrides),
            vec!["--a=w", "--a=x", "--b=1", "--c=z", "--d=", "--c=y", "--a0=q"]
        );
    }

    #[test]
    fn no_overrides_gives_the_sorted_defaults() {
        let defaults = vec![arg("b", "2"), arg("b", "1"), arg("a", "")];
        assert_eq!(to_command(&defaults, &[]), vec!["--a=", "--b=1", "--b=2"]);
    }

    #[test]
    fn set_and_get() {
        let mut args = vec![arg("a", "1"), arg("b", "2"), arg("a", "3")];
        assert_eq!(get(&args, "a"), Some("3"));
        set(&mut args, "a", "9");
        assert_eq!(args, vec![arg("a", "9"), arg("b", "2")]);
        set(&mut args, "c", "4");
        assert_eq!(get(&args, "c"), Some("4"));
        assert_eq!(get(&args, "zz"), None);
    }
}
