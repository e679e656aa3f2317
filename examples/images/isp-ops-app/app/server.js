// isp ops server (example)
console.log('isp-ops-app');
