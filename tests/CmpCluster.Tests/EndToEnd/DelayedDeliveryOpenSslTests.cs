using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// Delayed delivery (RFC 9483 §4.4) end to end: <c>openssl cmp</c> follows "waiting" and polls by itself until an operator
/// approves through the admin API; and a saturated signer (Cmp:MaxConcurrentIssuances) makes clients wait instead of failing.
/// </summary>
public sealed class DelayedDeliveryOpenSslTests
{
    private const string Token = "approval-token";

    [Fact]
    public async Task Openssl_polls_a_waiting_request_until_an_operator_approves_it()
    {
        await using NodeProcess node = await NodeProcess.StartAsync(
        [
            $"--Admin:Tokens:0={Token}", "--Cmp:PollCheckAfter=00:00:01",
            "--Cmp:Profiles:approval:RequireApproval=true",
            "--Cmp:Aliases:ra-approval:Secret=approvalsecret", "--Cmp:Aliases:ra-approval:CertificateProfile=approval",
        ]);
        using var dir = new TempDirectory("approval");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        Task<OpenSslResult> enrollment = new CmpEnrollment
        {
            Path = ".well-known/cmp/p/ra-approval", Secret = "approvalsecret", Subject = "/CN=approved-device/O=Example",
            Extra = ["-total_timeout", "60"],
        }.RunAsync(node, dir.Path);

        using HttpClient admin = Admin.Admin.Client(node, Token);
        JsonObject pending = await WaitForPendingAsync(admin, node);
        Assert.Equal("approval", (string?)pending["profile"]);
        string[] key = ((string)pending["transactionKey"]!).Split('/');
        using HttpResponseMessage approved = await admin.PostAsync($"api/v1/approvals/{key[0]}/{key[1]}/approve", null);
        Assert.Equal(System.Net.HttpStatusCode.NoContent, approved.StatusCode);

        OpenSslResult result = await enrollment;
        E2e.Succeeded(result, node);
        // openssl was told "waiting" and polled; whether it saw a pollRep first depends on how fast the approval came.
        E2e.OutputContains(result, "received 'waiting' PKIStatus, starting to poll", node);
        E2e.OutputContains(result, "received ip/cp/kup after polling", node);
        await E2e.AssertIssuedByNodeAsync(node, dir.Path, dir.File("cert.pem"), dir.File("key.pem"), [("2.5.4.3", "approved-device"), ("2.5.4.10", "Example")]);
        using HttpResponseMessage again = await admin.PostAsync($"api/v1/approvals/{key[0]}/{key[1]}/approve", null);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, again.StatusCode);
    }

    private static async Task<JsonObject> WaitForPendingAsync(HttpClient admin, NodeProcess node)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            JsonArray list = JsonNode.Parse(await admin.GetStringAsync("api/v1/approvals"))!.AsArray();
            if (list.Count > 0)
            {
                return Assert.Single(list)!.AsObject();
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "no request waited for approval\n" + node.Diagnostics());
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task A_saturated_signer_makes_clients_wait_and_every_one_is_served()
    {
        await using NodeProcess node = await NodeProcess.StartAsync(["--Cmp:MaxConcurrentIssuances=1", "--Cmp:PollCheckAfter=00:00:01"]);
        using HttpClient http = node.CreateHttpClient();
        int waited = 0;

        async Task<byte[]> EnrollAsync(int device)
        {
            var session = new CmpClientSession("changeit", "ra");
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            CmpResponseView response = session.Read(await E2e.PostCmpAsync(http, session.BuildEnrollment(true, new X509Name($"CN=storm-{device},O=Example"), key, implicitConfirm: true)));
            for (int polls = 0; response.Status?.Status.IntValueExact == (int)PkiStatus.Waiting || response.BodyType == PkiBodyType.PollRep; polls++)
            {
                Assert.True(polls < 60, "still waiting after 60 polls");
                Interlocked.Increment(ref waited);
                await Task.Delay(TimeSpan.FromSeconds(response.PollCheckAfter ?? 1));
                response = session.Read(await E2e.PostCmpAsync(http, session.BuildPollReq()));
            }
            Assert.Equal(PkiBodyType.Ip, response.BodyType);
            return response.CertificateDer ?? throw new InvalidOperationException("ip without a certificate");
        }

        byte[][] certificates = await Task.WhenAll(Enumerable.Range(0, 12).Select(EnrollAsync));

        Assert.Equal(12, certificates.Select(Convert.ToHexString).Distinct().Count());
        Assert.True(waited > 0, "twelve concurrent requests against one issuance slot: some should have waited");
        Assert.Contains("answered waiting: Capacity", node.Output);
    }
}
