using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.Admin;

/// <summary>One real node per test class with the admin token <see cref="Token"/> configured on the command line.</summary>
public sealed class AdminNodeFixture : IAsyncLifetime
{
    public const string Token = "test-token";

    private NodeProcess? _node;

    public NodeProcess Node => _node ?? throw new InvalidOperationException("the node fixture is not started");

    /// <summary>A client that sends the configured token (or <paramref name="token"/>; null: no Authorization header).</summary>
    public HttpClient Client(string? token = Token, TimeSpan? timeout = null) => Admin.Client(Node, token, timeout);

    public async Task InitializeAsync() => _node = await NodeProcess.StartAsync([$"--Admin:Tokens:0={Token}", "--Dashboard:Enabled=true",
        // An end-entity profile with rules for registrations: CN required, O fixed, C defaulting, OU optional; the default
        // certificate profile and the issuing CA only ("other" is a certificate profile it does not allow).
        "--Cmp:EndEntityProfiles:gnb:Fields:CN:Use=Required", "--Cmp:EndEntityProfiles:gnb:Fields:O:Use=Fixed",
        "--Cmp:EndEntityProfiles:gnb:Fields:O:Value=Operator", "--Cmp:EndEntityProfiles:gnb:Fields:C:Use=Default",
        "--Cmp:EndEntityProfiles:gnb:Fields:C:Value=SE", "--Cmp:EndEntityProfiles:gnb:Fields:OU:Use=Optional",
        "--Cmp:EndEntityProfiles:gnb:AllowedCertificateProfiles:0=default", "--Cmp:EndEntityProfiles:gnb:AllowedCas:0=issuing",
        "--Cmp:Profiles:other:ValidityDays=30"]);

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }
}

/// <summary>Helpers for admin API requests and their JSON answers.</summary>
public static class Admin
{
    /// <summary>A client of the node's management listener, where the admin API is served (or, to show that it is not
    /// there, of the device listener).</summary>
    public static HttpClient Client(NodeProcess node, string? token, TimeSpan? timeout = null, bool onDevicePort = false)
    {
        HttpClient client = onDevicePort ? node.CreateHttpClient(timeout) : node.CreateManagementClient(timeout);
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return client;
    }

    public static JsonObject Body(string username, string? code = "enroll-code-1234", string? subjectDn = null) => new()
    {
        ["username"] = username,
        ["subjectDn"] = subjectDn ?? $"CN={username},O=Example",
        ["subjectAltNames"] = new JsonArray("dns:host.example", "ip:10.0.0.1", "email:a@b.example", "uri:urn:x"),
        ["enrollmentCode"] = code,
    };

    public static async Task<(HttpResponseMessage Response, string Text)> SendAsync(HttpClient client, HttpMethod method, string path, JsonNode? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        HttpResponseMessage response = await client.SendAsync(request);
        return (response, await response.Content.ReadAsStringAsync());
    }

    public static async Task<JsonNode> JsonAsync(HttpClient client, HttpMethod method, string path, JsonNode? body, int expectedStatus)
    {
        (HttpResponseMessage response, string text) = await SendAsync(client, method, path, body);
        Assert.True((int)response.StatusCode == expectedStatus, $"{method} {path}: expected {expectedStatus}, got {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }
}
