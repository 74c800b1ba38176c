using System.Security.Cryptography.X509Certificates;
using CmpCluster.Contracts;
using Xunit;

namespace CmpCluster.Tests.Cluster;

/// <summary>
/// What must hold after every cluster test, read back through an Orleans client (so from grain storage in Redis):
/// <list type="number">
/// <item>no serial was answered twice;</item>
/// <item>every certificate a client received is stored, with the same DER, confirmed if the client got pkiConf and at
/// least awaiting confirmation otherwise;</item>
/// <item>no transaction was signed twice: every enrollment uses its own subject, and no subject has two signed
/// certificates among all certificate records in storage;</item>
/// <item>every confirmed certificate in storage is one a client received.</item>
/// </list>
/// </summary>
public static class ClusterInvariants
{
    public static async Task CheckAsync(TestCluster cluster, ClusterEnroller enroller, Action<string>? log = null, bool strictSingleSignature = true)
    {
        Assert.Empty(enroller.Violations);
        Receipt[] receipts = cluster.Receipts.GroupBy(r => r.SerialHex).Select(g => g.OrderByDescending(r => r.Confirmed).First()).ToArray();
        Assert.Equal(receipts.Length, receipts.Select(r => r.CommonName).Distinct().Count());

        (Microsoft.Extensions.Hosting.IHost host, IClusterClient client) = await cluster.ConnectClientAsync();
        using (host)
        {
            foreach (Receipt receipt in receipts)
            {
                CertificateRecord? record = await ReadAsync(client, "issuing", receipt.SerialHex);
                Assert.True(record is not null, $"certificate {receipt.SerialHex} ({receipt.CommonName}) was answered but is not stored");
                Assert.True(record.Der is not null && record.Der.AsSpan().SequenceEqual(receipt.Der), $"{receipt.SerialHex}: stored DER differs");
                CertificateStatus[] allowed = receipt.Confirmed ? [CertificateStatus.Confirmed] : [CertificateStatus.AwaitingConfirmation, CertificateStatus.Confirmed];
                Assert.True(allowed.Contains(record.Status), $"{receipt.SerialHex} ({receipt.CommonName}): status {record.Status}, client confirmed={receipt.Confirmed}");
            }

            var received = receipts.Select(r => r.SerialHex).ToHashSet();
            var signedBySubject = new Dictionary<string, List<string>>();
            foreach (string key in await cluster.CertificateGrainKeysAsync())
            {
                if (!key.StartsWith("issuing/", StringComparison.Ordinal))
                {
                    // The enrollers issue from the cluster's CA "issuing"; a CA a test created (RecordedCaClusterTests)
                    // issues to clients of that test, which checks its own certificates.
                    continue;
                }
                CertificateRecord? record = await ReadAsync(client, key[..key.IndexOf('/')], key[(key.IndexOf('/') + 1)..]);
                if (record?.Der is null)
                {
                    continue; // reserved, never signed: allowed (a crash between steps 2 and 4)
                }
                using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(record.Der);
                string subject = certificate.Subject;
                (signedBySubject.TryGetValue(subject, out List<string>? serials) ? serials : signedBySubject[subject] = []).Add(key);
                if (record.Status == CertificateStatus.Confirmed)
                {
                    Assert.True(received.Contains(key[(key.IndexOf('/') + 1)..]), $"{key} is confirmed but no client received it");
                }
            }
            // A second signature for one enrollment is a violation when a client could see both (both received or
            // confirmed). An extra certificate no client ever saw would be an orphan left by a silo killed between signing
            // and storing the transaction (the write-ahead of grains/Certificates/CertificateIssuer.cs, step 2, exists so
            // that a retry resumes instead): reported, and fatal only where the caller says so.
            var orphans = new List<string>();
            foreach ((string subject, List<string> keys) in signedBySubject.Where(p => p.Value.Count > 1))
            {
                int seen = keys.Count(k => received.Contains(k[(k.IndexOf('/') + 1)..]));
                Assert.True(seen <= 1, $"signed twice for one enrollment and both answered: {subject}: {string.Join(", ", keys)}");
                orphans.Add($"{subject}: {string.Join(", ", keys)}");
            }
            log?.Invoke($"invariants: {receipts.Length} received certificates checked; {orphans.Count} enrollment(s) with an orphaned extra signature");
            foreach (string orphan in orphans)
            {
                log?.Invoke("orphaned extra signature: " + orphan);
            }
            Assert.True(orphans.Count == 0 || !strictSingleSignature, "signed twice for one enrollment: " + string.Join("; ", orphans));
            await host.StopAsync();
        }
    }

    /// <summary>
    /// Reads what storage holds for one certificate. Right after a restart of every silo, a first call may outlast the
    /// tests' short response timeout (10 s) while a cold silo activates grains and reconnects to Redis: that is latency,
    /// not a lost certificate, so a timed-out read is asked again (three tries) before the checker judges.
    /// </summary>
    private static async Task<CertificateRecord?> ReadAsync(IClusterClient client, string ca, string serialHex)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return (await client.GetGrain<IAdminGrain>(GrainKeys.Admin).GetCertificateAsync(ca, serialHex)).Value;
            }
            catch (TimeoutException) when (attempt < 3)
            {
            }
        }
    }
}
