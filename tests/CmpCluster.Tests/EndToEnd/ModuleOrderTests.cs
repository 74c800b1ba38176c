using System.Text.Json.Nodes;
using Xunit;
using AdminApi = CmpCluster.Tests.Admin.Admin;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// Client-mode authentication modules run in the configured order and the first that succeeds wins: with
/// RegTokenPwd before HMAC, OpenSSL's PBM-protected ir (no regToken control) fails the first module and is
/// authenticated by the second; with a wrong code both fail and the answer is notAuthorized, not badMessageCheck.
/// </summary>
public sealed class ModuleOrderTests
{
    private const string Token = "module-order-token";

    [Fact]
    public async Task Pbm_request_without_regToken_is_authenticated_by_the_second_module()
    {
        await using NodeProcess node = await NodeProcess.StartAsync(
        [
            $"--Admin:Tokens:0={Token}",
            "--Cmp:Aliases:multi:Mode=Client",
            "--Cmp:Aliases:multi:AuthenticationModules:0=RegTokenPwd",
            "--Cmp:Aliases:multi:AuthenticationModules:1=HMAC",
            "--Cmp:Aliases:multi:ResponseProtection=Pbe",
            // Control: the first module alone cannot authenticate OpenSSL's request.
            "--Cmp:Aliases:tokenonly:Mode=Client",
            "--Cmp:Aliases:tokenonly:AuthenticationModules:0=RegTokenPwd",
            "--Cmp:Aliases:tokenonly:ResponseProtection=Pbe",
        ]);
        using HttpClient api = AdminApi.Client(node, Token);
        const string code = "multi-module-code-1";
        await AdminApi.JsonAsync(api, HttpMethod.Post, "/api/v1/end-entities", new JsonObject
        {
            ["username"] = "multi-device-1",
            ["subjectDn"] = "CN=multi-device-1,O=Operator",
            ["enrollmentCode"] = code,
        }, 201);
        await AdminApi.JsonAsync(api, HttpMethod.Post, "/api/v1/end-entities", new JsonObject
        {
            ["username"] = "multi-device-2",
            ["subjectDn"] = "CN=multi-device-2,O=Operator",
            ["enrollmentCode"] = code + "-2",
        }, 201);
        using var dir = new TempDirectory("module-order");
        string key = await OpenSsl.GenerateP256KeyAsync(dir.Path);

        // Wrong code first (on device 2): RegTokenPwd finds no regToken, HMAC's MAC does not verify → notAuthorized.
        OpenSslResult wrong = await new CmpEnrollment
        {
            Path = "cmp/multi",
            Reference = "multi-device-2",
            Secret = "not-the-code-2",
            Subject = "/CN=multi-device-2/O=Operator",
            CertOut = "cert-wrong.pem",
        }.RunAsync(node, dir.Path);
        E2e.Failed(wrong, node);
        E2e.OutputContains(wrong, "notAuthorized", node);
        E2e.OutputLacks(wrong, "badMessageCheck", node);
        Assert.False(File.Exists(dir.File("cert-wrong.pem")), "a certificate was issued for a wrong code");
        JsonNode device2 = await AdminApi.JsonAsync(api, HttpMethod.Get, "/api/v1/end-entities/multi-device-2", null, 200);
        Assert.True((string?)device2["status"] == "New", device2.ToJsonString());

        // Control: the right code at the alias with only RegTokenPwd is refused (no regToken control in the request),
        // so the success below is the second module's.
        OpenSslResult tokenOnly = await new CmpEnrollment
        {
            Path = "cmp/tokenonly",
            Reference = "multi-device-1",
            Secret = code,
            Subject = "/CN=multi-device-1/O=Operator",
            CertOut = "cert-tokenonly.pem",
        }.RunAsync(node, dir.Path);
        E2e.Failed(tokenOnly, node);
        E2e.OutputContains(tokenOnly, "badMessageCheck", node);
        Assert.False(File.Exists(dir.File("cert-tokenonly.pem")), "RegTokenPwd alone issued a certificate without a regToken");

        var enrollment = new CmpEnrollment
        {
            Path = "cmp/multi",
            Reference = "multi-device-1",
            Secret = code,
            Subject = "/CN=multi-device-1/O=Operator",
        };
        OpenSslResult first = await enrollment.RunAsync(node, dir.Path);
        E2e.Succeeded(first, node);
        E2e.OutputContains(first, "received PKICONF", node);
        await E2e.AssertIssuedByNodeAsync(node, dir.Path, dir.File("cert.pem"), key, [("2.5.4.3", "multi-device-1"), ("2.5.4.10", "Operator")]);
        JsonNode device1 = await AdminApi.JsonAsync(api, HttpMethod.Get, "/api/v1/end-entities/multi-device-1", null, 200);
        Assert.True((string?)device1["status"] == "Generated", device1.ToJsonString());
        string certificateKey = (string)Assert.Single(device1["certificates"]!.AsArray())!;
        JsonNode certificate = await AdminApi.JsonAsync(api, HttpMethod.Get, "/api/v1/certificates/" + certificateKey, null, 200);
        Assert.True((string?)certificate["status"] == "Confirmed", certificate.ToJsonString());

        // Now the right code, but already used: notAuthorized.
        OpenSslResult again = await (enrollment with { CertOut = "cert-again.pem" }).RunAsync(node, dir.Path);
        E2e.Failed(again, node);
        E2e.OutputContains(again, "notAuthorized", node);

        // And a wrong secret for device 1 after issuance: notAuthorized too.
        OpenSslResult wrongAfter = await (enrollment with { Secret = "wrong-secret-1", CertOut = "cert-wrong-1.pem" }).RunAsync(node, dir.Path);
        E2e.Failed(wrongAfter, node);
        E2e.OutputContains(wrongAfter, "notAuthorized", node);
    }
}
