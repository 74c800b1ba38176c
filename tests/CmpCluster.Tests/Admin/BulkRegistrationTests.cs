using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Xunit;
using Xunit.Abstractions;

namespace CmpCluster.Tests.Admin;

/// <summary>A 3GPP roll-out: thousands of base stations registered in one bulk call.</summary>
public sealed class BulkRegistrationTests(AdminNodeFixture fixture, ITestOutputHelper output) : IClassFixture<AdminNodeFixture>
{
    private static string Serial(int i) => $"gnb-{i:D5}";

    private static JsonObject Device(int i) => new()
    {
        ["username"] = Serial(i),
        ["subjectDn"] = $"CN={Serial(i)},O=Operator",
        ["enrollmentCode"] = $"code-{i:D5}-roll-out",
    };

    [Fact]
    public async Task Ten_thousand_devices_in_one_call()
    {
        using HttpClient client = fixture.Client(timeout: TimeSpan.FromMinutes(5));
        var items = new JsonArray(Enumerable.Range(1, 10_000).Select(i => (JsonNode)Device(i)).ToArray());

        var stopwatch = Stopwatch.StartNew();
        JsonNode result = await Admin.JsonAsync(client, HttpMethod.Post, "/api/v1/end-entities/bulk", new JsonObject { ["endEntities"] = items }, 200);
        stopwatch.Stop();
        output.WriteLine($"bulk registration of 10000 end entities: {stopwatch.ElapsedMilliseconds} ms");

        Assert.Equal(10_000, (int)result["created"]!);
        Assert.Equal(0, (int)result["replaced"]!);
        Assert.Equal(0, (int)result["existing"]!);
        Assert.Equal(0, (int)result["invalid"]!);
        Assert.Empty(result["errors"]!.AsArray());

        var random = new Random(20_000);
        foreach (int i in Enumerable.Range(0, 20).Select(_ => random.Next(1, 10_001)))
        {
            JsonNode view = await Admin.JsonAsync(client, HttpMethod.Get, "/api/v1/end-entities/" + Serial(i), null, 200);
            Assert.Equal($"CN={Serial(i)},O=Operator", (string?)view["subjectDn"]);
            Assert.Equal("New", (string?)view["status"]);
        }

        // Again: every one exists; with replace they are all replaced.
        JsonNode again = await Admin.JsonAsync(client, HttpMethod.Post, "/api/v1/end-entities/bulk",
            new JsonObject { ["endEntities"] = new JsonArray(Enumerable.Range(1, 100).Select(i => (JsonNode)Device(i)).ToArray()) }, 200);
        Assert.Equal(100, (int)again["existing"]!);
        JsonNode replaced = await Admin.JsonAsync(client, HttpMethod.Post, "/api/v1/end-entities/bulk",
            new JsonObject { ["endEntities"] = new JsonArray(Enumerable.Range(1, 100).Select(i => (JsonNode)Device(i)).ToArray()), ["replace"] = true }, 200);
        Assert.Equal(100, (int)replaced["replaced"]!);
        Assert.Equal(0, (int)replaced["created"]!);
    }

    [Fact]
    public async Task Invalid_items_are_reported_and_the_others_registered()
    {
        using HttpClient client = fixture.Client();
        JsonObject bad = Device(90_001);
        bad["subjectDn"] = "garbage";
        JsonObject duplicate = Device(90_000);
        var items = new JsonArray(Device(90_000), bad, duplicate, Device(90_002));

        JsonNode result = await Admin.JsonAsync(client, HttpMethod.Post, "/api/v1/end-entities/bulk", new JsonObject { ["endEntities"] = items }, 200);

        Assert.Equal(2, (int)result["created"]!);
        Assert.Equal(2, (int)result["invalid"]!);
        JsonArray errors = result["errors"]!.AsArray();
        Assert.Contains(errors, e => (int)e!["index"]! == 1 && (string?)e["field"] == "subjectDn" && (string?)e["username"] == Serial(90_001));
        Assert.Contains(errors, e => (int)e!["index"]! == 2 && (string?)e["field"] == "username");
        Assert.DoesNotContain("roll-out", result.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task More_than_ten_thousand_items_is_a_bad_request()
    {
        using HttpClient client = fixture.Client(timeout: TimeSpan.FromMinutes(2));
        var items = new JsonArray(Enumerable.Range(1, 10_001).Select(i => (JsonNode)Device(i + 100_000)).ToArray());
        (HttpResponseMessage response, string text) = await Admin.SendAsync(client, HttpMethod.Post, "/api/v1/end-entities/bulk", new JsonObject { ["endEntities"] = items });
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        Assert.True(JsonNode.Parse(text)!["errors"]!.AsObject().ContainsKey("endEntities"), text);
    }
}
