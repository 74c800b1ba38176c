using System.Net;
using System.Text.Json.Nodes;
using Xunit;

namespace CmpCluster.Tests.Admin;

/// <summary>End-entity CRUD, reset and validation over the admin API of a real node.</summary>
public sealed class EndEntityApiTests(AdminNodeFixture fixture) : IClassFixture<AdminNodeFixture>
{
    private const string Code = "s3cret-enrollment-code";

    [Fact]
    public async Task Create_read_update_reset_delete_round_trip_never_shows_the_code()
    {
        using HttpClient client = fixture.Client();
        var bodies = new List<string>();
        const string user = "crud-device@site-1";
        string path = "/api/v1/end-entities/" + Uri.EscapeDataString(user);

        (HttpResponseMessage created, string text) = await Admin.SendAsync(client, HttpMethod.Post, "/api/v1/end-entities", Admin.Body(user, Code));
        bodies.Add(text);
        Assert.True(created.StatusCode == HttpStatusCode.Created, text);
        Assert.Equal(path, created.Headers.Location?.OriginalString);
        JsonNode view = JsonNode.Parse(text)!;
        Assert.Equal(user, (string?)view["username"]);
        Assert.Equal("New", (string?)view["status"]);
        Assert.Equal("issuing", (string?)view["ca"]);
        Assert.Equal("default", (string?)view["certificateProfile"]);
        Assert.Equal("default", (string?)view["endEntityProfile"]);
        Assert.Equal(4, view["subjectAltNames"]!.AsArray().Count);

        (HttpResponseMessage got, text) = await Admin.SendAsync(client, HttpMethod.Get, path);
        bodies.Add(text);
        Assert.Equal(HttpStatusCode.OK, got.StatusCode);
        Assert.Equal($"CN={user},O=Example", (string?)JsonNode.Parse(text)!["subjectDn"]);

        var update = new JsonObject { ["subjectDn"] = "CN=renamed,O=Example", ["subjectAltNames"] = new JsonArray("dns:renamed.example") };
        (HttpResponseMessage updated, text) = await Admin.SendAsync(client, HttpMethod.Put, path, update);
        bodies.Add(text);
        Assert.True(updated.StatusCode == HttpStatusCode.OK, text);
        Assert.Equal("CN=renamed,O=Example", (string?)JsonNode.Parse(text)!["subjectDn"]);

        (HttpResponseMessage reset, text) = await Admin.SendAsync(client, HttpMethod.Post, path + "/reset", new JsonObject { ["enrollmentCode"] = Code + "-2" });
        bodies.Add(text);
        Assert.True(reset.StatusCode == HttpStatusCode.OK, text);
        Assert.Equal("New", (string?)JsonNode.Parse(text)!["status"]);

        (HttpResponseMessage deleted, text) = await Admin.SendAsync(client, HttpMethod.Delete, path);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        (HttpResponseMessage gone, text) = await Admin.SendAsync(client, HttpMethod.Get, path);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        (HttpResponseMessage deletedAgain, _) = await Admin.SendAsync(client, HttpMethod.Delete, path);
        Assert.Equal(HttpStatusCode.NotFound, deletedAgain.StatusCode);

        Assert.All(bodies, b => Assert.DoesNotContain(Code, b, StringComparison.Ordinal));
        Assert.All(bodies, b => Assert.DoesNotContain("enrollmentCode", b, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Duplicate_registration_is_a_conflict()
    {
        using HttpClient client = fixture.Client();
        await Admin.JsonAsync(client, HttpMethod.Post, "/api/v1/end-entities", Admin.Body("dup-device"), 201);
        (HttpResponseMessage again, string text) = await Admin.SendAsync(client, HttpMethod.Post, "/api/v1/end-entities", Admin.Body("dup-device"));
        Assert.True(again.StatusCode == HttpStatusCode.Conflict, text);
    }

    [Fact]
    public async Task Unknown_end_entity_is_404_for_update_reset_and_delete()
    {
        using HttpClient client = fixture.Client();
        var update = new JsonObject { ["subjectDn"] = "CN=nobody" };
        Assert.Equal(HttpStatusCode.NotFound, (await Admin.SendAsync(client, HttpMethod.Put, "/api/v1/end-entities/nobody", update)).Response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Admin.SendAsync(client, HttpMethod.Post, "/api/v1/end-entities/nobody/reset",
            new JsonObject { ["enrollmentCode"] = Code })).Response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Admin.SendAsync(client, HttpMethod.Delete, "/api/v1/end-entities/nobody")).Response.StatusCode);
    }

    [Theory]
    [InlineData("username", "bad user!", "username")]
    [InlineData("username", "", "username")]
    [InlineData("username", "129", "username")]
    [InlineData("subjectDn", "", "subjectDn")]
    [InlineData("subjectDn", "not a distinguished name", "subjectDn")]
    [InlineData("enrollmentCode", "short", "enrollmentCode")]
    [InlineData("enrollmentCode", "257", "enrollmentCode")]
    [InlineData("enrollmentCode", null, "enrollmentCode")]
    [InlineData("san", "dns:bad host", "subjectAltNames[1]")]
    [InlineData("san", "ip:300.1.1.1", "subjectAltNames[1]")]
    [InlineData("san", "ip:10.1", "subjectAltNames[1]")]
    [InlineData("san", "email:no-at-sign", "subjectAltNames[1]")]
    [InlineData("san", "uri:not a uri", "subjectAltNames[1]")]
    [InlineData("san", "ftp:host.example", "subjectAltNames[1]")]
    [InlineData("san", "host.example", "subjectAltNames[1]")]
    [InlineData("ca", "no-such-ca", "ca")]
    [InlineData("certificateProfile", "no-such-profile", "certificateProfile")]
    [InlineData("endEntityProfile", "bad profile!", "endEntityProfile")]
    [InlineData("endEntityProfile", "no-such-ee-profile", "endEntityProfile")]
    public async Task Invalid_field_is_a_validation_problem_naming_it(string field, string? value, string errorKey)
    {
        using HttpClient client = fixture.Client();
        JsonObject body = Admin.Body("valid-" + Guid.NewGuid().ToString("N")[..8]);
        string? actual = value switch
        {
            "129" => new string('u', 129),
            "257" => new string('c', 257),
            _ => value,
        };
        if (field == "san")
        {
            body["subjectAltNames"] = new JsonArray("dns:ok.example", actual);
        }
        else
        {
            body[field] = actual;
        }
        JsonNode problem = await Admin.JsonAsync(client, HttpMethod.Post, "/api/v1/end-entities", body, 400);
        JsonObject errors = problem["errors"]!.AsObject();
        Assert.True(errors.ContainsKey(errorKey), problem.ToJsonString());
        Assert.Single(errors);
    }

    [Fact]
    public async Task Reset_with_a_short_code_names_the_field()
    {
        using HttpClient client = fixture.Client();
        JsonNode problem = await Admin.JsonAsync(client, HttpMethod.Post, "/api/v1/end-entities/anyone/reset",
            new JsonObject { ["enrollmentCode"] = "short" }, 400);
        Assert.True(problem["errors"]!.AsObject().ContainsKey("enrollmentCode"), problem.ToJsonString());
    }

    /// <summary>The end-entity profile's DN rules hold for registrations: a fixed field takes the profile's value, a
    /// default one is added, and the stored subject is the result.</summary>
    [Fact]
    public async Task A_registration_under_an_end_entity_profile_gets_its_fixed_and_default_fields()
    {
        using HttpClient client = fixture.Client();
        string user = "gnb-" + Guid.NewGuid().ToString("N")[..8];
        JsonObject body = Admin.Body(user, subjectDn: $"CN={user},O=Someone Else");
        body["endEntityProfile"] = "gnb";

        JsonNode view = await Admin.JsonAsync(client, HttpMethod.Post, "/api/v1/end-entities", body, 201);

        Assert.Equal($"CN={user},O=Operator,C=SE", (string?)view["subjectDn"]);
        Assert.Equal("gnb", (string?)view["endEntityProfile"]);
    }

    [Theory]
    [InlineData("subjectDn", "CN={0},OU=Radio,L=Berlin", "subjectDn")] // L is not a field of the profile
    [InlineData("subjectDn", "OU=Radio,O=Operator", "subjectDn")]       // CN is required
    [InlineData("certificateProfile", "other", "certificateProfile")]   // not among AllowedCertificateProfiles
    public async Task A_registration_that_breaks_its_end_entity_profile_is_a_validation_problem(string field, string value, string errorKey)
    {
        using HttpClient client = fixture.Client();
        string user = "gnb-" + Guid.NewGuid().ToString("N")[..8];
        JsonObject body = Admin.Body(user);
        body["endEntityProfile"] = "gnb";
        body[field] = string.Format(System.Globalization.CultureInfo.InvariantCulture, value, user);

        JsonNode problem = await Admin.JsonAsync(client, HttpMethod.Post, "/api/v1/end-entities", body, 400);

        JsonObject errors = problem["errors"]!.AsObject();
        Assert.True(errors.ContainsKey(errorKey), problem.ToJsonString());
        Assert.Single(errors);
        (HttpResponseMessage absent, _) = await Admin.SendAsync(client, HttpMethod.Get, "/api/v1/end-entities/" + user);
        Assert.Equal(HttpStatusCode.NotFound, absent.StatusCode);
    }
}
