"""The owner's word covers clean-up: a table its owner kept out of the autopilot
(`peering-autopilot:routes` not `true`) is never touched when a peering ends, whoever made the
route there; and nothing outside the autopilot's record is removed."""

from __future__ import annotations

from typing import Any

from autopilot_local.harness import LocalCloud
from tests.support.world import HUB, MEMBER, REGION, build_net, peering_routes, request_peering


def test_clean_up_never_touches_a_table_its_owner_kept_out(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN a configured peering: the autopilot's routes in the hub side's managed tables
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()
    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()
    app, data = a.subnet_tables
    assert peering_routes(cloud, a, peering_id)[app] == {"10.1.0.0/16"}
    ec2 = cloud.ec2(HUB, REGION)
    # ... a person's route through it in the table its owner kept out (not in the record) ...
    ec2.create_route(
        RouteTableId=a.excluded_table, DestinationCidrBlock="10.1.0.0/16", VpcPeeringConnectionId=peering_id
    )
    # ... and the app table's owner then keeps it out too, with an odd spelling (the route there is
    # the autopilot's, in its record)
    ec2.create_tags(Resources=[app], Tags=[{"Key": "peering-autopilot:routes", "Value": "No"}])

    # WHEN a person deletes the peering
    cloud.ec2(HUB, REGION, record=True).delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    autopilot.run_until_idle()

    # THEN the routes in the kept-out tables stay, whoever made them; the others are cleaned up
    routes = peering_routes(cloud, a, peering_id)
    assert routes[app] == {"10.1.0.0/16"}
    assert routes[a.excluded_table] == {"10.1.0.0/16"}
    assert routes[data] == set() and routes[a.main_table] == set()
    assert all(not found for found in peering_routes(cloud, b, peering_id).values())
    # ... and the report says which stayed and why
    [event] = [e for e in autopilot.published if e["detail-type"] == "Peering Cleaned Up"]
    hub_side = next(s for s in event["detail"]["sides"] if s["accountId"] == HUB)
    kept_out = hub_side["kept"]["keptOut"]
    assert sorted(r["routeTableId"] for r in kept_out["routes"]) == sorted([app, a.excluded_table])
    assert "kept out" in kept_out["reason"]
    removed = {r["routeTableId"] for r in hub_side["routesRemoved"]}
    assert removed == {data, a.main_table}
    # ... and a sweep afterwards finds nothing it may do there
    autopilot.tick()
    assert peering_routes(cloud, a, peering_id)[app] == {"10.1.0.0/16"}
