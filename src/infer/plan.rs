//! A [`Plan`]: which task to run and how its task file will load the model. The loader details
//! are the task file's own type (an architecture, a GGUF file…), carried here without this
//! floor knowing them.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use super::InferError;
use super::pipeline::Task;

/// How to load and run one model for one task.
#[derive(Clone)]
pub struct Plan {
    /// The task.
    pub task: Task,
    loader: Arc<dyn Loader>,
}

/// A task file's loader details: anything comparable and printable.
trait Loader: Any + Send + Sync + fmt::Debug {
    fn as_any(&self) -> &dyn Any;
    fn same(&self, other: &dyn Loader) -> bool;
}

impl<T: Any + Send + Sync + fmt::Debug + PartialEq> Loader for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn same(&self, other: &dyn Loader) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
}

impl Plan {
    /// A plan for `task` with the task file's loader details.
    pub fn new<T: Any + Send + Sync + fmt::Debug + PartialEq>(task: Task, loader: T) -> Plan {
        Plan {
            task,
            loader: Arc::new(loader),
        }
    }

    /// The loader details, when they are a `T` (else an error naming both).
    pub fn loader<T: Any>(&self) -> Result<&T, InferError> {
        self.loader.as_any().downcast_ref::<T>().ok_or_else(|| {
            InferError::Model(format!(
                "{} needs a {} plan, not {:?}",
                self.task,
                std::any::type_name::<T>()
                    .rsplit("::")
                    .next()
                    .unwrap_or_default(),
                self.loader
            ))
        })
    }
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plan({}, {:?})", self.task, self.loader)
    }
}

impl PartialEq for Plan {
    fn eq(&self, other: &Plan) -> bool {
        self.task == other.task && self.loader.same(other.loader.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Gguf(&'static str);

    #[test]
    fn loader_details_come_back_typed_and_compare() {
        let task = Task::new("text-generation");
        let plan = Plan::new(task, Gguf("a.gguf"));
        assert_eq!(plan.loader::<Gguf>().unwrap(), &Gguf("a.gguf"));
        assert!(plan.loader::<u32>().is_err());
        assert_eq!(plan, Plan::new(task, Gguf("a.gguf")));
        assert_ne!(plan, Plan::new(task, Gguf("b.gguf")));
        assert_ne!(plan, Plan::new(task, 7u32));
        assert_eq!(
            format!("{plan:?}"),
            "Plan(text-generation, Gguf(\"a.gguf\"))"
        );
    }
}
