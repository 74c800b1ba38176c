using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using AdminApi = CmpCluster.Tests.Admin.Admin;
using Xunit;
using Xunit.Abstractions;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// A roll-out end to end: 10 000 base stations registered in one admin bulk call, then a random sample of them
/// enrolls with the real OpenSSL client in client mode (PasswordBasedMac keyed with each device's own one-time code).
/// </summary>
public sealed class BulkEnrollmentTests(ITestOutputHelper output)
{
    private const string Token = "bulk-e2e-token";
    private const int Devices = 10_000;
    private const int SampleSize = 20;
    private const int Parallelism = 4;

    private static string Username(int i) => $"gnb-{i:D5}";

    [Fact]
    public async Task Ten_thousand_registered_devices_a_sample_enrolls_with_openssl_once_each()
    {
        await using NodeProcess node = await NodeProcess.StartAsync(
        [
            $"--Admin:Tokens:0={Token}",
            "--Cmp:Aliases:client:Mode=Client",
            "--Cmp:Aliases:client:ResponseProtection=Pbe",
        ]);
        using HttpClient api = AdminApi.Client(node, Token, TimeSpan.FromMinutes(5));

        // Distinct codes per device, with a random part only this test knows.
        string suffix = Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant();
        string Code(int i) => $"code-{i:D5}-{suffix}";
        var items = new JsonArray(Enumerable.Range(1, Devices).Select(i => (JsonNode)new JsonObject
        {
            ["username"] = Username(i),
            ["subjectDn"] = $"CN={Username(i)},O=Operator",
            ["enrollmentCode"] = Code(i),
        }).ToArray());

        var bulkTime = Stopwatch.StartNew();
        JsonNode bulk = await AdminApi.JsonAsync(api, HttpMethod.Post, "/api/v1/end-entities/bulk", new JsonObject { ["endEntities"] = items }, 200);
        bulkTime.Stop();
        output.WriteLine($"bulk registration of {Devices} end entities: {bulkTime.ElapsedMilliseconds} ms");
        Assert.Equal(Devices, (int)bulk["created"]!);
        Assert.Equal(0, (int)bulk["invalid"]!);
        Assert.Empty(bulk["errors"]!.AsArray());

        int seed = Random.Shared.Next();
        output.WriteLine($"sample seed: {seed}");
        var random = new Random(seed);
        int[] sample = Enumerable.Range(1, Devices).OrderBy(_ => random.Next()).Take(SampleSize + 1).ToArray();
        int outsider = sample[^1];
        sample = sample[..SampleSize];

        using var dir = new TempDirectory("bulk-enroll");
        var results = new ConcurrentDictionary<int, OpenSslResult>();
        using var gate = new SemaphoreSlim(Parallelism);
        var enrollTime = Stopwatch.StartNew();
        await Task.WhenAll(sample.Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                string deviceDir = Path.Combine(dir.Path, Username(i));
                Directory.CreateDirectory(deviceDir);
                await OpenSsl.GenerateP256KeyAsync(deviceDir);
                results[i] = await Enrollment(i, Code(i)).RunAsync(node, deviceDir);
            }
            finally
            {
                gate.Release();
            }
        }));
        enrollTime.Stop();
        output.WriteLine($"{SampleSize} openssl client-mode enrollments ({Parallelism} at a time): {enrollTime.ElapsedMilliseconds} ms");

        foreach (int i in sample)
        {
            string deviceDir = Path.Combine(dir.Path, Username(i));
            OpenSslResult result = results[i];
            E2e.Succeeded(result, node);
            E2e.OutputContains(result, "received PKICONF", node);
            string certPath = Path.Combine(deviceDir, "cert.pem");
            await E2e.AssertIssuedByNodeAsync(node, deviceDir, certPath, Path.Combine(deviceDir, "key.pem"),
                [("2.5.4.3", Username(i)), ("2.5.4.10", "Operator")]);
            using X509Certificate2 issued = E2e.LoadCertificate(certPath);
            string serial = E2e.SerialHex(issued);

            JsonNode endEntity = await AdminApi.JsonAsync(api, HttpMethod.Get, "/api/v1/end-entities/" + Username(i), null, 200);
            Assert.True((string?)endEntity["status"] == "Generated", endEntity.ToJsonString());
            Assert.Equal("issuing/" + serial, (string?)Assert.Single(endEntity["certificates"]!.AsArray()));
            Assert.False((bool)endEntity["enrollmentOpen"]!, endEntity.ToJsonString());

            JsonNode certificate = await AdminApi.JsonAsync(api, HttpMethod.Get, $"/api/v1/certificates/issuing/{serial}", null, 200);
            Assert.True((string?)certificate["status"] == "Confirmed", certificate.ToJsonString());
            Assert.Equal(issued.SubjectName.Name, (string?)certificate["subjectDn"]);
        }

        // The code was used up: the same device, same code, again.
        int again = sample[0];
        string againDir = Path.Combine(dir.Path, Username(again));
        OpenSslResult second = await (Enrollment(again, Code(again)) with { CertOut = "cert-again.pem" }).RunAsync(node, againDir);
        E2e.Failed(second, node);
        E2e.OutputContains(second, "notAuthorized", node);
        Assert.False(File.Exists(Path.Combine(againDir, "cert-again.pem")), "a second certificate was issued with a used code");
        JsonNode afterSecond = await AdminApi.JsonAsync(api, HttpMethod.Get, "/api/v1/end-entities/" + Username(again), null, 200);
        Assert.Equal("Generated", (string?)afterSecond["status"]);
        Assert.Single(afterSecond["certificates"]!.AsArray());

        // A device outside the sample with a wrong code (another device's code) is refused and stays New.
        string outsiderDir = Path.Combine(dir.Path, Username(outsider));
        Directory.CreateDirectory(outsiderDir);
        await OpenSsl.GenerateP256KeyAsync(outsiderDir);
        OpenSslResult wrong = await Enrollment(outsider, Code(outsider == 1 ? 2 : outsider - 1)).RunAsync(node, outsiderDir);
        E2e.Failed(wrong, node);
        E2e.OutputContains(wrong, "notAuthorized", node);
        Assert.False(File.Exists(Path.Combine(outsiderDir, "cert.pem")), "a certificate was issued for a wrong code");
        JsonNode outsiderView = await AdminApi.JsonAsync(api, HttpMethod.Get, "/api/v1/end-entities/" + Username(outsider), null, 200);
        Assert.True((string?)outsiderView["status"] == "New", outsiderView.ToJsonString());
        Assert.Empty(outsiderView["certificates"]!.AsArray());
        Assert.False((bool)outsiderView["enrollmentOpen"]!, outsiderView.ToJsonString());
    }

    private static CmpEnrollment Enrollment(int i, string code) => new()
    {
        Path = "cmp/client",
        Reference = Username(i),
        Secret = code,
        Subject = $"/CN={Username(i)}/O=Operator",
    };
}
