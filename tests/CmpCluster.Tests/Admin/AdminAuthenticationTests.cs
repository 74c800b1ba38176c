using System.Net;
using System.Text.Json.Nodes;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.Admin;

/// <summary>Every endpoint family refuses a missing or wrong bearer token with 401 and a Bearer challenge (RFC 6750 §3).</summary>
public sealed class AdminAuthenticationTests(AdminNodeFixture fixture) : IClassFixture<AdminNodeFixture>
{
    public static TheoryData<string, string> Endpoints => new()
    {
        { "POST", "/api/v1/end-entities" },
        { "POST", "/api/v1/end-entities/bulk" },
        { "GET", "/api/v1/end-entities/someone" },
        { "PUT", "/api/v1/end-entities/someone" },
        { "DELETE", "/api/v1/end-entities/someone" },
        { "POST", "/api/v1/end-entities/someone/reset" },
        { "GET", "/api/v1/cas" },
        { "POST", "/api/v1/cas" },
        { "POST", "/api/v1/cas/import" },
        { "GET", "/api/v1/cas/issuing/certificate.pem" },
        { "GET", "/api/v1/cas/issuing/certificate.der" },
        { "GET", "/api/v1/cas/issuing/chain.pem" },
        { "POST", "/api/v1/cas/issuing/disable" },
        { "POST", "/api/v1/cas/issuing/enable" },
        { "GET", "/api/v1/certificates/issuing/0A1B" },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task Missing_token_is_refused(string method, string path) =>
        await AssertRefusedAsync(fixture.Client(token: null), method, path);

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task Wrong_token_is_refused(string method, string path) =>
        await AssertRefusedAsync(fixture.Client(token: "wrong-token"), method, path);

    [Fact]
    public async Task Development_token_is_refused_when_a_token_is_configured() =>
        await AssertRefusedAsync(fixture.Client(token: "dev-admin-token"), "GET", "/api/v1/cas");

    [Fact]
    public async Task OpenApi_document_is_public_and_lists_the_admin_paths()
    {
        using HttpClient client = fixture.Client(token: null);
        using HttpResponseMessage response = await client.GetAsync("/openapi/v1.json");
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        JsonObject paths = JsonNode.Parse(text)!["paths"]!.AsObject();
        Assert.Contains("/api/v1/end-entities", paths.Select(p => p.Key));
        Assert.Contains("/api/v1/end-entities/bulk", paths.Select(p => p.Key));
        Assert.Contains("/api/v1/certificates/{ca}/{serialHex}", paths.Select(p => p.Key));
        Assert.NotNull(paths["/api/v1/cas"]!["post"]);
        Assert.NotNull(paths["/api/v1/cas/import"]!["post"]);
    }

    private async Task AssertRefusedAsync(HttpClient client, string method, string path)
    {
        using (client)
        {
            JsonNode? body = method is "POST" or "PUT" ? Admin.Body("someone") : null;
            (HttpResponseMessage response, string text) = await Admin.SendAsync(client, new HttpMethod(method), path, body);
            using (response)
            {
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path}: {(int)response.StatusCode} {text}\n{fixture.Node.Diagnostics()}");
                Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
            }
        }
    }
}

/// <summary>No token configured: Production (the node's default) refuses everything, even the development token.</summary>
public sealed class AdminWithoutTokenTests
{
    [Fact]
    public async Task Production_without_a_token_refuses_the_development_token()
    {
        await using NodeProcess node = await NodeProcess.StartAsync();
        using HttpClient client = Admin.Client(node, "dev-admin-token");
        using HttpResponseMessage response = await client.GetAsync("/api/v1/cas");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Admin__Tokens__0", node.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Development_without_a_token_accepts_the_development_token_and_warns()
    {
        await using NodeProcess node = await NodeProcess.StartAsync(["--environment=Development"]);
        using (HttpClient client = Admin.Client(node, "dev-admin-token"))
        using (HttpResponseMessage response = await client.GetAsync("/api/v1/cas"))
        {
            Assert.True(response.StatusCode == HttpStatusCode.OK, node.Diagnostics());
        }
        using (HttpClient client = Admin.Client(node, "another-token"))
        using (HttpResponseMessage response = await client.GetAsync("/api/v1/cas"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        Assert.Contains("dev-admin-token", node.Output, StringComparison.Ordinal);
    }
}
