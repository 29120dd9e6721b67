// Package system keeps the registry of information systems and the
// four-layer protection model around them (Chỉ thị 14/CT-TTg, Công văn
// 1552/BTTTT-CATTT): each system's owner unit, security level (cấp độ 1–5,
// Decree 85/2016), assets, and the parties of its four layers — on-site
// force, monitoring team, independent assessor, upstream connection.
//
// Systems are stored as entities of kind "system"; every change leaves an
// audit record (kind "audit") with who made it and the system before and
// after. Policies per level (policies.yml, overridable) say which layers a
// system must have, how fast incidents must be handled, how often it is
// assessed and what goes upstream. The registry routes incidents to the
// systems their evidence touches (it implements incident.Router), and
// Coverage measures, per system and per unit, which layers are in place
// and working.
package system
