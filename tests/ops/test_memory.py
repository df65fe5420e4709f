"""What a web worker keeps between requests stays bounded (see `benchmarks.memory`)."""

import pytest

from connectors import webhooks


@pytest.mark.django_db
def test_posts_to_made_up_slugs_do_not_grow_the_connection_cache(client, loop_connection):
    webhooks.forget_connections()

    for n in range(300):
        response = client.post(
            f"/webhooks/loop/made-up-{n}/", data=b"{}", content_type="application/json"
        )
        assert response.status_code == 404

    # Anyone can make up slugs: nothing is kept for them.
    assert webhooks._connections == {}
    # A real connection is still kept, once, so its webhooks skip the query.
    assert webhooks._connection("loop", loop_connection.slug) == loop_connection
    assert webhooks._connection("loop", loop_connection.slug) == loop_connection
    assert list(webhooks._connections) == [("loop", loop_connection.slug)]
