//! Plans, run limits and the plan catalog.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::money::{Currency, Money};

/// A number of metered runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunCount(u32);

impl RunCount {
    pub const ZERO: RunCount = RunCount(0);

    pub const fn new(n: u32) -> Self {
        Self(n)
    }

    pub const fn get(&self) -> u32 {
        self.0
    }
}

impl fmt::Display for RunCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How many runs a period allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunLimit {
    Limited(RunCount),
    Unlimited,
}

/// `unlimited` (any case) or a whole number of runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a whole number or `unlimited`")]
pub struct InvalidRunLimit;

impl FromStr for RunLimit {
    type Err = InvalidRunLimit;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("unlimited") {
            return Ok(Self::Unlimited);
        }
        text.parse().map(Self::limited).map_err(|_| InvalidRunLimit)
    }
}

impl RunLimit {
    pub const fn limited(n: u32) -> Self {
        Self::Limited(RunCount::new(n))
    }

    /// The limit as a number, `None` when unlimited (the wire form of `monthly_agent_runs_limit`).
    pub const fn as_option(&self) -> Option<u32> {
        match self {
            Self::Limited(n) => Some(n.get()),
            Self::Unlimited => None,
        }
    }

    /// Whether `used + units` stays within the limit.
    pub fn allows(&self, used: RunCount, units: RunCount) -> bool {
        match self {
            Self::Unlimited => true,
            Self::Limited(limit) => u64::from(used.get()) + u64::from(units.get()) <= u64::from(limit.get()),
        }
    }

    /// Runs left after `used`; `None` when unlimited.
    pub fn remaining(&self, used: RunCount) -> Option<u32> {
        self.as_option().map(|limit| limit.saturating_sub(used.get()))
    }
}

/// The plan text is not one of the catalog's plans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown plan `{0}`")]
pub struct UnknownPlan(pub String);

/// The four plan tiers. Their limits, prices and Stripe prices come from configuration; the tiers
/// themselves are fixed because rules hang on them (trials start from `free`, `enterprise` limits
/// are set per customer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum PlanId {
    Free,
    Basic,
    Pro,
    Enterprise,
}

impl PlanId {
    pub const ALL: [PlanId; 4] = [Self::Free, Self::Basic, Self::Pro, Self::Enterprise];

    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Basic => "basic",
            Self::Pro => "pro",
            Self::Enterprise => "enterprise",
        }
    }
}

impl fmt::Display for PlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PlanId {
    type Err = UnknownPlan;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownPlan(wanted.chars().take(32).collect()))
    }
}

impl TryFrom<String> for PlanId {
    type Error = UnknownPlan;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

/// One plan of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub id: PlanId,
    pub name: String,
    /// Runs per period. For `enterprise` this is the default until an admin sets a per-customer limit.
    pub runs: RunLimit,
    /// Monthly price; `None` for a custom (negotiated) price.
    pub price: Option<Money>,
    /// Whether users can buy it through Checkout.
    pub self_serve: bool,
    /// The Stripe price this plan is sold at, when configured.
    pub stripe_price_id: Option<String>,
    /// Sold per seat (`TOLLGATE_PLAN_{BASIC,PRO}_PER_SEAT`): the Stripe subscription's quantity
    /// is the account's member count and its pool `runs` × that count.
    pub per_seat: bool,
}

/// The trial's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialTerms {
    pub days: u16,
    pub runs: RunCount,
}

impl TrialTerms {
    pub fn duration(&self) -> time::Duration {
        time::Duration::days(i64::from(self.days))
    }
}

impl Default for TrialTerms {
    fn default() -> Self {
        Self { days: 14, runs: RunCount::new(50) }
    }
}

/// A catalog that breaks one of the rules below.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("plan `{0}` appears more than once")]
    Duplicate(PlanId),
    #[error("plan `{0}` is missing")]
    Missing(PlanId),
    #[error("the free plan must cost nothing and must not be sold through checkout")]
    FreeMustBeFree,
    #[error("the enterprise plan is not sold through checkout")]
    EnterpriseNotSelfServe,
    #[error("plan `{0}` is sold through checkout and needs a price")]
    SelfServeNeedsPrice(PlanId),
    #[error("the free plan must allow a limited number of runs")]
    FreeMustBeLimited,
    #[error("stripe price `{0}` is mapped to more than one plan")]
    SharedStripePrice(String),
    #[error("the trial must last at least one day")]
    EmptyTrial,
}

/// Why a plan cannot be bought through Checkout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutPlanError {
    #[error("plan `{0}` cannot be bought through checkout")]
    NotSelfServe(PlanId),
    #[error("no stripe price is configured for plan `{0}`")]
    PriceNotConfigured(PlanId),
}

/// The validated plan catalog: exactly the four tiers, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanCatalog {
    plans: [Plan; 4],
    trial: TrialTerms,
}

impl PlanCatalog {
    /// Validates and builds a catalog from the four plans (any order) and the trial terms.
    pub fn new(plans: Vec<Plan>, trial: TrialTerms) -> Result<Self, CatalogError> {
        let mut slots: [Option<Plan>; 4] = Default::default();
        for plan in plans {
            let slot = &mut slots[plan.id as usize];
            if slot.is_some() {
                return Err(CatalogError::Duplicate(plan.id));
            }
            *slot = Some(plan);
        }
        let [free, basic, pro, enterprise] = slots;
        let plans = [
            free.ok_or(CatalogError::Missing(PlanId::Free))?,
            basic.ok_or(CatalogError::Missing(PlanId::Basic))?,
            pro.ok_or(CatalogError::Missing(PlanId::Pro))?,
            enterprise.ok_or(CatalogError::Missing(PlanId::Enterprise))?,
        ];
        let [free, _, _, enterprise] = &plans;
        if free.self_serve || free.price.is_some_and(|p| !p.is_zero()) {
            return Err(CatalogError::FreeMustBeFree);
        }
        if free.runs == RunLimit::Unlimited {
            return Err(CatalogError::FreeMustBeLimited);
        }
        if enterprise.self_serve {
            return Err(CatalogError::EnterpriseNotSelfServe);
        }
        for plan in &plans {
            if plan.self_serve && plan.price.is_none() {
                return Err(CatalogError::SelfServeNeedsPrice(plan.id));
            }
        }
        let mut prices: Vec<&str> = plans.iter().filter_map(|p| p.stripe_price_id.as_deref()).collect();
        prices.sort_unstable();
        if let Some(w) = prices.windows(2).find(|w| w[0] == w[1]) {
            return Err(CatalogError::SharedStripePrice(w[0].to_owned()));
        }
        if trial.days == 0 {
            return Err(CatalogError::EmptyTrial);
        }
        Ok(Self { plans, trial })
    }

    /// The SPEC's default catalog, with the given Stripe prices for `basic` and `pro`.
    pub fn with_defaults(basic_price: Option<String>, pro_price: Option<String>) -> Self {
        let usd = |cents| Some(Money::new(cents, Currency::USD));
        let plan = |id, name: &str, runs, price, self_serve, stripe_price_id| Plan {
            id,
            name: name.to_owned(),
            runs,
            price,
            self_serve,
            stripe_price_id,
            per_seat: false,
        };
        Self {
            plans: [
                plan(PlanId::Free, "Free", RunLimit::limited(10), usd(0), false, None),
                plan(PlanId::Basic, "Basic", RunLimit::limited(1_000), usd(1_900), true, basic_price),
                plan(PlanId::Pro, "Pro", RunLimit::limited(5_000), usd(4_900), true, pro_price),
                plan(PlanId::Enterprise, "Enterprise", RunLimit::Unlimited, None, false, None),
            ],
            trial: TrialTerms::default(),
        }
    }

    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    pub fn get(&self, id: PlanId) -> &Plan {
        &self.plans[id as usize]
    }

    pub const fn trial(&self) -> TrialTerms {
        self.trial
    }

    /// The plan a Stripe price is mapped to.
    pub fn plan_for_stripe_price(&self, price_id: &str) -> Option<PlanId> {
        self.plans.iter().find(|p| p.stripe_price_id.as_deref() == Some(price_id)).map(|p| p.id)
    }

    /// The Stripe price to sell `plan` at through Checkout.
    pub fn checkout_price(&self, plan: PlanId) -> Result<&str, CheckoutPlanError> {
        let plan = self.get(plan);
        if !plan.self_serve {
            return Err(CheckoutPlanError::NotSelfServe(plan.id));
        }
        plan.stripe_price_id.as_deref().ok_or(CheckoutPlanError::PriceNotConfigured(plan.id))
    }
}

impl Default for PlanCatalog {
    fn default() -> Self {
        Self::with_defaults(None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn priced() -> PlanCatalog {
        PlanCatalog::with_defaults(Some("price_basic".into()), Some("price_pro".into()))
    }

    #[test]
    fn the_default_catalog_matches_the_spec() {
        let c = PlanCatalog::default();
        assert_eq!(c.get(PlanId::Free).runs, RunLimit::limited(10));
        assert_eq!(c.get(PlanId::Basic).runs, RunLimit::limited(1_000));
        assert_eq!(c.get(PlanId::Basic).price, Some(Money::new(1_900, Currency::USD)));
        assert_eq!(c.get(PlanId::Pro).runs, RunLimit::limited(5_000));
        assert_eq!(c.get(PlanId::Pro).price, Some(Money::new(4_900, Currency::USD)));
        assert_eq!(c.get(PlanId::Enterprise).runs, RunLimit::Unlimited);
        assert_eq!(c.get(PlanId::Enterprise).price, None);
        assert_eq!(c.trial(), TrialTerms { days: 14, runs: RunCount::new(50) });
        // And the default catalog passes its own validation.
        assert_eq!(PlanCatalog::new(c.plans().to_vec(), c.trial()), Ok(c));
    }

    #[test]
    fn plan_names_parse_case_insensitively_and_unknown_ones_are_refused() {
        assert_eq!("PRO".parse(), Ok(PlanId::Pro));
        assert_eq!(" basic".parse(), Ok(PlanId::Basic));
        assert!("platinum".parse::<PlanId>().is_err());
    }

    #[test]
    fn stripe_prices_map_to_plans_in_both_directions() {
        let c = priced();
        assert_eq!(c.plan_for_stripe_price("price_pro"), Some(PlanId::Pro));
        assert_eq!(c.plan_for_stripe_price("price_other"), None);
        assert_eq!(c.checkout_price(PlanId::Basic), Ok("price_basic"));
    }

    #[test]
    fn free_and_enterprise_cannot_be_bought_through_checkout() {
        let c = priced();
        assert_eq!(c.checkout_price(PlanId::Free), Err(CheckoutPlanError::NotSelfServe(PlanId::Free)));
        assert_eq!(
            c.checkout_price(PlanId::Enterprise),
            Err(CheckoutPlanError::NotSelfServe(PlanId::Enterprise))
        );
    }

    #[test]
    fn checkout_without_a_configured_price_is_refused() {
        assert_eq!(
            PlanCatalog::default().checkout_price(PlanId::Pro),
            Err(CheckoutPlanError::PriceNotConfigured(PlanId::Pro))
        );
    }

    #[test]
    fn a_catalog_with_a_missing_or_duplicate_plan_is_refused() {
        let mut plans = priced().plans().to_vec();
        plans.pop();
        assert_eq!(
            PlanCatalog::new(plans.clone(), TrialTerms::default()),
            Err(CatalogError::Missing(PlanId::Enterprise))
        );
        plans.push(plans[0].clone());
        assert_eq!(
            PlanCatalog::new(plans, TrialTerms::default()),
            Err(CatalogError::Duplicate(PlanId::Free))
        );
    }

    #[test]
    fn a_catalog_that_breaks_a_rule_is_refused() {
        let base = priced().plans().to_vec();
        let with = |f: &dyn Fn(&mut Vec<Plan>)| {
            let mut plans = base.clone();
            f(&mut plans);
            PlanCatalog::new(plans, TrialTerms::default())
        };
        assert_eq!(
            with(&|p| p[0].price = Some(Money::new(1, Currency::USD))),
            Err(CatalogError::FreeMustBeFree)
        );
        assert_eq!(with(&|p| p[0].runs = RunLimit::Unlimited), Err(CatalogError::FreeMustBeLimited));
        assert_eq!(with(&|p| p[3].self_serve = true), Err(CatalogError::EnterpriseNotSelfServe));
        assert_eq!(with(&|p| p[1].price = None), Err(CatalogError::SelfServeNeedsPrice(PlanId::Basic)));
        assert_eq!(
            with(&|p| p[2].stripe_price_id = Some("price_basic".into())),
            Err(CatalogError::SharedStripePrice("price_basic".into()))
        );
        assert_eq!(
            PlanCatalog::new(base.clone(), TrialTerms { days: 0, runs: RunCount::new(5) }),
            Err(CatalogError::EmptyTrial)
        );
    }

    #[test]
    fn a_limit_allows_exactly_up_to_its_size() {
        let ten = RunLimit::limited(10);
        assert!(ten.allows(RunCount::new(9), RunCount::new(1)));
        assert!(!ten.allows(RunCount::new(10), RunCount::new(1)));
        assert!(!ten.allows(RunCount::new(5), RunCount::new(6)));
        assert!(RunLimit::Unlimited.allows(RunCount::new(u32::MAX), RunCount::new(u32::MAX)));
        assert_eq!(ten.remaining(RunCount::new(4)), Some(6));
        assert_eq!(ten.remaining(RunCount::new(12)), Some(0));
        assert_eq!(RunLimit::Unlimited.remaining(RunCount::new(4)), None);
    }
}
