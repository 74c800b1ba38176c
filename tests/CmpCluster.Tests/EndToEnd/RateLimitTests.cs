using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Xunit;
using static CmpCluster.Tests.EndToEnd.LoopbackClients;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// Gateway rate limits over HTTP against a real node (<see cref="RateLimitedNodeFixture"/>): an offender from one loopback
/// address exhausts its bucket and gets 429 with Retry-After while a device from another address keeps enrolling; the
/// per-alias concurrency cap refuses a request beyond it while the others are in flight; the health probes and the
/// management listener are never limited; the counter and the summary log name the limit, never a line per request.
/// </summary>
[Collection(RateLimitedNodeCollection.Name)]
public sealed class RateLimitTests(RateLimitedNodeFixture fixture)
{
    private NodeProcess Node => fixture.Node;

    [Fact]
    public async Task An_offender_over_its_address_limit_gets_429_while_another_client_keeps_enrolling()
    {
        using HttpClient offender = Http(Node.BaseAddress, "127.0.0.2");
        using HttpClient device = Http(Node.BaseAddress, "127.0.0.3");

        // Not DER: each answered request is a cheap 400 from the CMP endpoint; every one takes a token first.
        int answered = 0;
        HttpResponseMessage? refused = null;
        for (int i = 0; i < 3 * RateLimitedNodeFixture.AddressTokens && refused is null; i++)
        {
            HttpResponseMessage response = await offender.PostAsync(".well-known/cmp/p/ra", Pkixcmp(Encoding.ASCII.GetBytes("junk")));
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = response;
                continue;
            }
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            answered++;
            response.Dispose();
        }

        Assert.NotNull(refused);
        using (refused)
        {
            Assert.Equal(RateLimitedNodeFixture.AddressTokens, answered);
            Assert.True(refused.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 }, $"Retry-After: {refused.Headers.RetryAfter}");
            Assert.Equal("text/plain", refused.Content.Headers.ContentType?.MediaType); // a transport answer, not a CMP message
        }
        int refusals = 1;
        for (int i = 0; i < 10; i++, refusals++)
        {
            using HttpResponseMessage again = await offender.PostAsync(".well-known/cmp/p/ra", Pkixcmp(Encoding.ASCII.GetBytes("junk")));
            Assert.Equal(HttpStatusCode.TooManyRequests, again.StatusCode);
        }
        for (int i = 0; i < 3; i++)
        {
            await AssertEnrollsAsync(device, $"rate-limit-neighbour-{i}", Node);
        }
        using (HttpResponseMessage still = await offender.PostAsync("cmp/ra", Pkixcmp([0x30, 0x00])))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, still.StatusCode);
            refusals++;
        }
        using (HttpResponseMessage crl = await offender.GetAsync("crl/issuing.crl"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, crl.StatusCode); // CRL and OCSP count per address too
            refusals++;
        }
        Assert.Equal("ok", await offender.GetStringAsync("health")); // probes are never limited

        using HttpClient management = Http(Node.ManagementAddress, "127.0.0.2");
        string metrics = await ScrapeUntilAsync(management, text => text.Contains("limit=\"address\",transport=\"http\"", StringComparison.Ordinal));
        string series = metrics.Split('\n').First(l => l.StartsWith("cmp_gateway_rate_limited_total{", StringComparison.Ordinal)
            && l.Contains("alias=\"ra\",limit=\"address\",transport=\"http\"", StringComparison.Ordinal));
        Assert.DoesNotContain("127.0.0", series); // never the client address as a tag

        // Every refusal is in a summary line (one per one-second window), none has a line of its own.
        string[] summaries = await OffenderSummariesAsync("127.0.0.2", refusals);
        Assert.True(summaries.Length < refusals, $"{summaries.Length} summary lines for {refusals} refused requests:\n{string.Join('\n', summaries)}");
        Assert.All(summaries, line => Assert.DoesNotContain("127.0.0.3", line));
    }

    [Fact]
    public async Task The_alias_concurrency_cap_refuses_a_request_beyond_it_while_the_others_are_in_flight()
    {
        // Two requests whose bodies are not sent yet: Kestrel answers 100 Continue once the CMP endpoint starts reading,
        // which is after the rate limiter granted the lease. Different addresses: the per-address buckets are not the cause.
        var held = new List<HeldRequest>();
        try
        {
            for (int i = 0; i < RateLimitedNodeFixture.AliasConcurrency; i++)
            {
                held.Add(await HeldRequest.StartAsync(Node.HttpPort, $"127.0.0.{4 + i}", $"rate-limit-held-{i}"));
            }
            using HttpClient third = Http(Node.BaseAddress, "127.0.0.9");
            (_, byte[] ir) = Enrollment("rate-limit-third");
            using (HttpResponseMessage refused = await third.PostAsync(".well-known/cmp/p/ra", Pkixcmp(ir)))
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
                Assert.True(refused.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 }, $"Retry-After: {refused.Headers.RetryAfter}");
            }
            // The cap is per alias: another alias still answers (400: not DER, from the endpoint, not 429).
            using (HttpResponseMessage other = await third.PostAsync(".well-known/cmp/p/client", Pkixcmp(Encoding.ASCII.GetBytes("junk"))))
            {
                Assert.Equal(HttpStatusCode.BadRequest, other.StatusCode);
            }

            foreach (HeldRequest request in held)
            {
                Assert.Equal(200, await request.CompleteAsync());
            }
            await AssertEnrollsAsync(third, "rate-limit-third-again", Node);
        }
        finally
        {
            held.ForEach(h => h.Dispose());
        }

        using HttpClient management = Http(Node.ManagementAddress, "127.0.0.9");
        await ScrapeUntilAsync(management, text => text.Contains("alias=\"ra\",limit=\"alias_concurrency\",transport=\"http\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Behind_a_known_proxy_the_forwarded_client_counts_and_a_forged_header_from_elsewhere_does_not()
    {
        using HttpClient proxy = Http(Node.BaseAddress, RateLimitedNodeFixture.Proxy);
        using HttpClient stranger = Http(Node.BaseAddress, "127.0.0.21");

        static async Task<HttpStatusCode> JunkAsync(HttpClient http, string forwardedFor)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, ".well-known/cmp/p/ra") { Content = Pkixcmp(Encoding.ASCII.GetBytes("junk")) };
            // As HAProxy's "option forwardfor" sends it: whatever the client claimed, then the address it came from.
            request.Headers.Add("X-Forwarded-For", forwardedFor);
            using HttpResponseMessage response = await http.SendAsync(request);
            return response.StatusCode;
        }

        for (int i = 0; i < RateLimitedNodeFixture.AddressTokens; i++)
        {
            Assert.Equal(HttpStatusCode.BadRequest, await JunkAsync(proxy, "10.9.9.9, 198.51.100.1"));
        }
        Assert.Equal(HttpStatusCode.TooManyRequests, await JunkAsync(proxy, "198.51.100.1"));
        // Another client behind the same proxy has its own bucket, and so does the proxy's own address.
        Assert.Equal(HttpStatusCode.BadRequest, await JunkAsync(proxy, "198.51.100.2"));
        // From an address that is no known proxy the header is the client's to invent, so it is ignored.
        Assert.Equal(HttpStatusCode.BadRequest, await JunkAsync(stranger, "198.51.100.1"));
    }

    private async Task<string> ScrapeUntilAsync(HttpClient management, Func<string, bool> complete)
    {
        // The Prometheus exporter caches a scrape briefly: poll until the series shows, 15 s at most.
        var clock = Stopwatch.StartNew();
        string metrics = await management.GetStringAsync("metrics");
        while (!complete(metrics) && clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(250);
            metrics = await management.GetStringAsync("metrics");
        }
        Assert.True(complete(metrics), $"the expected series is not in /metrics\n{metrics}");
        return metrics;
    }

    /// <summary>The summary lines naming <paramref name="address"/>, once their counts add up to <paramref name="refusals"/>.</summary>
    private async Task<string[]> OffenderSummariesAsync(string address, int refusals)
    {
        var counted = new Regex(Regex.Escape(address) + @" \((\d+)\)");
        var clock = Stopwatch.StartNew();
        while (true)
        {
            string[] lines = Node.Output.Split('\n').Where(l => l.Contains("rate-limited in the last", StringComparison.Ordinal) && counted.IsMatch(l)).ToArray();
            int total = lines.Sum(l => int.Parse(counted.Match(l).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            if (total >= refusals)
            {
                Assert.Equal(refusals, total);
                return lines;
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the summaries count {total} of {refusals} refusals from {address}\n{Node.Diagnostics()}");
            await Task.Delay(200);
        }
    }

    /// <summary>An HTTP/1.1 POST whose headers are sent with <c>Expect: 100-continue</c> and whose body waits.</summary>
    private sealed class HeldRequest : IDisposable
    {
        private readonly NetworkStream _stream;
        private readonly byte[] _body;

        private HeldRequest(Socket socket, byte[] body)
        {
            _stream = new NetworkStream(socket, ownsSocket: true);
            _body = body;
        }

        public static async Task<HeldRequest> StartAsync(int port, string source, string commonName)
        {
            (_, byte[] ir) = Enrollment(commonName);
            var request = new HeldRequest(await ConnectAsync(source, port), ir);
            string head = $"POST /.well-known/cmp/p/ra HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/pkixcmp\r\n" +
                          $"Content-Length: {ir.Length}\r\nExpect: 100-continue\r\n\r\n";
            await request._stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            string interim = await request.ReadHeadAsync();
            Assert.StartsWith("HTTP/1.1 100", interim);
            return request;
        }

        /// <summary>Sends the body and returns the final status.</summary>
        public async Task<int> CompleteAsync()
        {
            await _stream.WriteAsync(_body);
            string head = await ReadHeadAsync();
            return int.Parse(head.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        }

        public void Dispose() => _stream.Dispose();

        /// <summary>Reads a status line and headers, up to the empty line (the body, if any, is not needed).</summary>
        private async Task<string> ReadHeadAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                int read = await _stream.ReadAsync(one, timeout.Token);
                Assert.True(read == 1, "the server closed the connection; so far: " + head);
                head.Append((char)one[0]);
            }
            return head.ToString();
        }
    }
}
